package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

const distrustedPath = "/api/v1/reports/authenticationMethods/distrustedPasskeys"

// The day a model is found unsafe: a blob that newly reports registered
// models as revoked or compromised puts their passkeys — a FIDO2 key by
// AAGUID, a U2F key by key identifier — in the report, with an audit record
// and a log line each and a metric; a later blob with the same news adds
// none. With blockCompromisedModels on, their sign-in is refused with a
// message telling the user to register a new key.
func TestNewlyDistrustedModelsAreFoundAndCanBeBlocked(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		u2f, keyID := u2fKey(t, w)
		w.enableForAll()
		fido := w.key(goodAAGUID, softkey.FormatPacked)
		alice := w.user("alice@contoso.com")
		bob := w.user("bob@contoso.com")
		carol := w.user("carol@contoso.com")
		w.mustStatus(w.register(fido, w.session(alice, true), "Alice's key"), http.StatusCreated)
		w.mustStatus(w.register(u2f, w.session(bob, true), "Bob's key"), http.StatusCreated)
		w.mustStatus(w.register(w.key(revokedAAGUID, softkey.FormatNone), w.session(carol, true), "Carol's key"), http.StatusCreated)

		report := func() map[string]any {
			return w.mustStatus(w.do("GET", distrustedPath, bearer(w.reader), nil), http.StatusOK).json(t)
		}
		// Carol's model was revoked before she registered it: it is in the report from the start.
		if r := report(); r["users"] != 1.0 {
			t.Fatalf("report before the change = %v", r)
		}
		w.importBlob(9,
			mdstest.EntryOptions{AAGUID: goodAAGUID, Description: goodModel, Statuses: []string{"FIDO_CERTIFIED_L1", "USER_VERIFICATION_BYPASS"},
				AttestationRootPEMs: []string{w.ca.RootPEM()}},
			mdstest.EntryOptions{Description: u2fModel, KeyIdentifiers: []string{keyID}, Statuses: []string{"FIDO_CERTIFIED", "ATTESTATION_KEY_COMPROMISE"},
				AttestationRootPEMs: []string{w.ca.RootPEM()}})
		r := report()
		list, _ := r["value"].([]any)
		if r["users"] != 3.0 || len(list) != 3 {
			t.Fatalf("report after the change = %v", r)
		}
		want := map[string]string{
			"alice@contoso.com": goodModel + "|USER_VERIFICATION_BYPASS",
			"bob@contoso.com":   u2fModel + "|ATTESTATION_KEY_COMPROMISE",
			"carol@contoso.com": revokedModel + "|REVOKED",
		}
		for _, x := range list {
			m := x.(map[string]any)
			upn, _ := m["userPrincipalName"].(string)
			model, why, _ := strings.Cut(want[upn], "|")
			if m["model"] != model || !strings.Contains(m["reason"].(string), why) {
				t.Errorf("report row for %s = %v, want %s, %s", upn, m, model, why)
			}
		}

		audits := func() []storage.AuditEvent {
			evs, err := w.store.ListAudit(context.Background(), storage.EventFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []storage.AuditEvent
			for _, e := range evs {
				if e.Action == "passkey.modelDistrusted" {
					out = append(out, e)
				}
			}
			return out
		}
		evs := audits()
		if len(evs) != 2 {
			t.Fatalf("audit records of newly distrusted passkeys = %d, want 2 (Alice's and Bob's; Carol's model was revoked already)", len(evs))
		}
		for _, e := range evs {
			if e.Actor != "mds" || (e.Target != alice && e.Target != bob) || !strings.Contains(string(e.Details), `"mdsNumber":9`) {
				t.Errorf("audit record = %+v %s", e, e.Details)
			}
		}
		metrics := string(w.do("GET", "/metrics", cred{}, nil).body)
		for _, line := range []string{"keyward_passkeys_of_distrusted_models 3", "keyward_passkeys_newly_distrusted_total 2"} {
			if !strings.Contains(metrics, line+"\n") {
				t.Errorf("metrics lack %q", line)
			}
		}
		// The same news again: nothing new to audit.
		w.importBlob(10,
			mdstest.EntryOptions{AAGUID: goodAAGUID, Description: goodModel, Statuses: []string{"FIDO_CERTIFIED_L1", "USER_VERIFICATION_BYPASS"},
				AttestationRootPEMs: []string{w.ca.RootPEM()}},
			mdstest.EntryOptions{Description: u2fModel, KeyIdentifiers: []string{keyID}, Statuses: []string{"FIDO_CERTIFIED", "ATTESTATION_KEY_COMPROMISE"},
				AttestationRootPEMs: []string{w.ca.RootPEM()}})
		if n := len(audits()); n != 2 {
			t.Fatalf("audit records after the same news = %d, want still 2", n)
		}

		// Off by default: the keys still sign in. On: refused, with the way forward.
		w.mustStatus(w.login(fido, "alice@contoso.com"), http.StatusOK)
		w.setProfile(`"blockCompromisedModels":true`)
		pol := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).json(t)
		if p := pol["passkeyProfiles"].([]any)[0].(map[string]any); p["blockCompromisedModels"] != true {
			t.Fatalf("profile = %v", p)
		}
		wantError(t, w.login(fido, "alice@contoso.com"), http.StatusForbidden, "modelCompromised",
			"the FIDO Alliance reports this model ("+goodModel+") as USER_VERIFICATION_BYPASS, and your organisation no longer accepts keys of this model: register a new passkey")
		wantError(t, w.login(u2f, "bob@contoso.com"), http.StatusForbidden, "modelCompromised", "("+u2fModel+") as ATTESTATION_KEY_COMPROMISE")
	})
}

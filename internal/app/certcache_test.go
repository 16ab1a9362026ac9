package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey/softkey"
)

// TestRememberedAttestationCertificatesAreJudgedAgain: a node keeps the
// certificates of chains that verified to an MDS root parsed, so the next
// key of the model does not parse them again. What is remembered is only
// the parse: the same key's chain registered again is judged afresh, so a
// model the metadata revokes meanwhile is refused at once, and then
// accepted again when the metadata clears it.
func TestRememberedAttestationCertificatesAreJudgedAgain(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		w.setProfile(`"attestationEnforcement":"registrationOnly","keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]}`)
		k := w.key(goodAAGUID, softkey.FormatPacked) // one leaf certificate for every registration below
		attested := func(user string) {
			t.Helper()
			m := w.mustStatus(w.provision(user, k, 5), http.StatusCreated).json(t)
			if m["attestationLevel"] != "attested" || m["model"] != goodModel {
				t.Fatalf("registration for %s = %v, want attested %s", user, m, goodModel)
			}
		}
		refused := func(user, fragment string) {
			t.Helper()
			r := w.provision(user, k, 5)
			if r.status != http.StatusForbidden {
				t.Fatalf("registration for %s: status %d, want 403: %s", user, r.status, r.body)
			}
			if code, msg := r.err(t); code != "attestationRequired" || !strings.Contains(msg, fragment) {
				t.Fatalf("registration for %s refused with %s %q, want attestationRequired containing %q", user, code, msg, fragment)
			}
		}
		attested(w.user("alice@contoso.com"))
		attested(w.user("bob@contoso.com")) // the same chain, remembered now

		w.importBlob(20, mdstest.EntryOptions{AAGUID: goodAAGUID, Description: goodModel,
			Statuses: []string{"FIDO_CERTIFIED_L1", "REVOKED"}, AttestationRootPEMs: []string{w.ca.RootPEM()}})
		refused(w.user("carol@contoso.com"), "REVOKED")

		// The metadata now lists another root for the model: the remembered
		// certificates do not chain to it.
		otherCA, err := softkey.NewCA("Another Attestation")
		if err != nil {
			t.Fatal(err)
		}
		w.importBlob(21, mdstest.EntryOptions{AAGUID: goodAAGUID, Description: goodModel,
			Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{otherCA.RootPEM()}})
		refused(w.user("dave@contoso.com"), "does not chain")

		w.importBlob(22)
		attested(w.user("erin@contoso.com"))
	})
}

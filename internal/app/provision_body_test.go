package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// TestProvisioningBodyIsReadOnceOrAsBefore: a provisioning body of exactly
// the documented shape is decoded in one pass with its credential; any
// other body is read as before — fields a browser's credential JSON may
// grow are ignored, an unknown field of the body itself and a credential
// that cannot be read are refused with their own messages, and nothing is
// stored for them.
func TestProvisioningBodyIsReadOnceOrAsBefore(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		alice := w.user("alice@contoso.com")
		base := "/api/v1/users/" + alice + "/authentication/fido2Methods"
		// send provisions a new key with the body change makes of the
		// authenticator's response.
		send := func(change func(body, credential map[string]any)) reply {
			t.Helper()
			opts := w.mustStatus(w.do("GET", base+"/creationOptions", bearer(w.admin), nil), http.StatusOK)
			resp, err := w.key(goodAAGUID, softkey.FormatPacked).Register(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			var credential map[string]any
			if err := json.Unmarshal(resp, &credential); err != nil {
				t.Fatal(err)
			}
			body := map[string]any{"displayName": "  Front desk key ", "publicKeyCredential": credential}
			change(body, credential)
			return w.do("POST", base, bearer(w.admin), body)
		}
		refused := func(r reply, code, fragment string) {
			t.Helper()
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if c, m := r.err(t); c != code || !strings.Contains(m, fragment) {
				t.Fatalf("refused with %s %q, want %s containing %q", c, m, code, fragment)
			}
		}
		stored := func(want int) {
			t.Helper()
			list := w.mustStatus(w.do("GET", base, bearer(w.admin), nil), http.StatusOK).json(t)["value"].([]any)
			if len(list) != want {
				t.Fatalf("alice has %d passkeys, want %d", len(list), want)
			}
		}

		m := w.mustStatus(send(func(map[string]any, map[string]any) {}), http.StatusCreated).json(t)
		if m["displayName"] != "Front desk key" || m["attestationLevel"] != "attested" || m["model"] != goodModel {
			t.Fatalf("provisioned = %v", m)
		}
		m = w.mustStatus(send(func(_, c map[string]any) {
			c["someFutureMember"] = map[string]any{"x": 1}
			c["response"].(map[string]any)["anotherOne"] = "y"
		}), http.StatusCreated).json(t)
		if m["displayName"] != "Front desk key" || m["attestationLevel"] != "attested" {
			t.Fatalf("provisioned with unknown credential members = %v", m)
		}
		stored(2)

		refused(send(func(b, _ map[string]any) { b["note"] = "x" }), "invalidRequest", "unknown field \"note\"")
		refused(send(func(_, c map[string]any) { c["id"] = 5 }), "invalidResponse", "could not be read")
		refused(send(func(_, c map[string]any) { delete(c, "id") }), "invalidResponse", "could not be read")
		refused(send(func(_, c map[string]any) { c["response"].(map[string]any)["attestationObject"] = "not base64url!" }), "invalidResponse", "could not be read")
		refused(send(func(_, c map[string]any) { c["response"].(map[string]any)["attestationObject"] = nil }), "invalidResponse", "could not be read")
		refused(send(func(b, _ map[string]any) { b["publicKeyCredential"] = nil }), "invalidRequest", "publicKeyCredential is required")
		refused(send(func(b, _ map[string]any) { b["displayName"] = 7 }), "invalidRequest", "displayName must be a string")
		stored(2)
	})
}

// TestSelfServiceRegistrationBodyIsReadOnceOrAsBefore: the same for a
// person adding their own passkey, whose body also says which key is
// wanted.
func TestSelfServiceRegistrationBodyIsReadOnceOrAsBefore(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		alice := w.user("alice@contoso.com")
		session := w.session(alice, true)
		send := func(change func(body, credential map[string]any)) reply {
			t.Helper()
			opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(session), nil), http.StatusOK)
			resp, err := w.key(goodAAGUID, softkey.FormatPacked).Register(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			var credential map[string]any
			if err := json.Unmarshal(resp, &credential); err != nil {
				t.Fatal(err)
			}
			body := map[string]any{"displayName": "My key", "publicKeyCredential": credential}
			change(body, credential)
			return w.do("POST", "/api/v1/me/passkeys", cookie(session), body)
		}
		m := w.mustStatus(send(func(b, _ map[string]any) { b["deviceBound"] = true }), http.StatusCreated).json(t)
		if m["displayName"] != "My key" || m["attestationLevel"] != "attested" {
			t.Fatalf("registered = %v", m)
		}
		w.mustStatus(send(func(_, c map[string]any) { c["response"].(map[string]any)["anotherOne"] = "y" }), http.StatusCreated)

		// The key wanted is judged either way: a key of another model than
		// the one asked for is refused.
		r := send(func(b, _ map[string]any) { b["models"] = []string{revokedAAGUID} })
		if r.status != http.StatusForbidden {
			t.Fatalf("a key of another model than the one wanted: status %d, want 403: %s", r.status, r.body)
		}
		r = send(func(b, c map[string]any) { b["models"] = []string{revokedAAGUID}; c["extra"] = 1 })
		if r.status != http.StatusForbidden {
			t.Fatalf("a key of another model than the one wanted (body read the old way): status %d, want 403: %s", r.status, r.body)
		}
		r = send(func(b, _ map[string]any) { b["note"] = "x" })
		if code, msg := r.err(t); r.status != http.StatusBadRequest || code != "invalidRequest" || !strings.Contains(msg, `unknown field "note"`) {
			t.Fatalf("unknown body field: %d %s %q", r.status, code, msg)
		}
		list := w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(session), nil), http.StatusOK).json(t)["value"].([]any)
		if len(list) != 2 {
			t.Fatalf("alice has %d passkeys, want 2", len(list))
		}
	})
}

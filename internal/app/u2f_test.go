package app_test

import (
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey/softkey"
)

const u2fModel = "Contoso U2F Key"

// u2fKey is a U2F security key (fido-u2f attestation, zero AAGUID) from the
// world's CA, listed in MDS blob 8 by its attestation certificate's key
// identifier.
func u2fKey(t *testing.T, w *world) (*softkey.Authenticator, string) {
	t.Helper()
	k := w.key(goodAAGUID, softkey.FormatFIDOU2F, func(o *softkey.Options) { o.CA = w.ca })
	leaf, err := k.AttestationCertificate(softkey.FormatFIDOU2F)
	if err != nil {
		t.Fatal(err)
	}
	keyID := mds.KeyIdentifier(leaf)
	w.importBlob(8, mdstest.EntryOptions{Description: u2fModel, KeyIdentifiers: []string{keyID},
		Statuses: []string{"FIDO_CERTIFIED"}, AttestationRootPEMs: []string{w.ca.RootPEM()}})
	return k, keyID
}

// A U2F key is found in MDS by its attestation certificate key identifier:
// it registers as its model, attested, under attestation enforcement, and
// signs in. An allow list (of AAGUIDs) never admits it, nor a key that sent
// `none`, and each refusal says why.
func TestU2FKeyIsLookedUpByKeyIdentifier(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		k, keyID := u2fKey(t, w)
		alice := w.user("alice@contoso.com")
		w.enableForAll()
		w.setProfile(`"attestationEnforcement":"registrationOnly"`)
		r := w.mustStatus(w.register(k, w.session(alice, true), ""), http.StatusCreated).json(t)
		if r["aaGuid"] != "00000000-0000-0000-0000-000000000000" || r["model"] != u2fModel || r["displayName"] != u2fModel ||
			r["attestationLevel"] != "attested" || r["attestationFormat"] != "fido-u2f" || r["attestationCertificateKeyIdentifier"] != keyID {
			t.Fatalf("registered U2F key = %v", r)
		}
		w.mustStatus(w.login(k, "alice@contoso.com"), http.StatusOK)

		// Unknown to MDS: the refusal names the key identifier.
		other := w.key(goodAAGUID, softkey.FormatFIDOU2F, func(o *softkey.Options) { o.CA = w.ca })
		wantError(t, w.register(other, w.session(alice, true), ""), http.StatusForbidden, "attestationRequired",
			"its AAGUID is all zeros), and its attestation certificate (key identifier ")

		w.setProfile(`"attestationEnforcement":"disabled","keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + goodAAGUID + `"]}`)
		wantError(t, w.login(k, "alice@contoso.com"), http.StatusForbidden, "keyRestricted",
			"this key ("+u2fModel+") is an older U2F security key that has no AAGUID, so your organisation's list of allowed key models cannot include it")
		wantError(t, w.register(w.key("00000000-0000-0000-0000-000000000000", softkey.FormatNone), w.session(alice, true), ""), http.StatusForbidden, "keyRestricted",
			"this key did not say which model it is (its AAGUID is all zeros)")
	})
}

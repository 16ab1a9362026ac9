package passkey_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/passkey/testvectors"
	"github.com/keyward/keyward/internal/policy"
)

// Every real authenticator's response, of every format go-webauthn supports,
// is read and judged: the ones go-webauthn verifies today come out allowed
// under a permissive profile with the format, AAGUID and certificates it
// reports; the ones it refuses come out refused with its reason.
func TestInspectRealAuthenticatorResponses(t *testing.T) {
	vectors, err := testvectors.LoadRegistrations()
	if err != nil {
		t.Fatal(err)
	}
	formats := map[string]bool{}
	now := time.Now()
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			res, err := passkey.Inspect(passkey.InspectInput{
				Response: v.Response, Challenge: v.Challenge, Origin: v.Origin, RPID: v.RPID,
				Profile: policy.DefaultProfile(), Now: now,
			})
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if res.Format != v.Format || res.AAGUID != v.Expect.AAGUID {
				t.Errorf("format/aaguid = %s/%s, want %s/%s", res.Format, res.AAGUID, v.Format, v.Expect.AAGUID)
			}
			if res.AttestationLevel != "notAttested" {
				t.Errorf("attestationLevel = %s without MDS, want notAttested", res.AttestationLevel)
			}
			want := v.WantError(now)
			if want == "" {
				formats[v.Format] = true
				if res.Verdict != "allowed" || res.AttestationType != v.Expect.AttestationType {
					t.Errorf("verdict %s %v type %q, want allowed %q", res.Verdict, res.Reasons, res.AttestationType, v.Expect.AttestationType)
				}
				if len(v.Expect.CertificateSubjects) > 0 && strings.Join(res.CertificateSubjects, "|") != strings.Join(v.Expect.CertificateSubjects, "|") {
					t.Errorf("subjects %q, want %q", res.CertificateSubjects, v.Expect.CertificateSubjects)
				}
				return
			}
			if res.Verdict != "refused" || len(res.Reasons) == 0 || !strings.Contains(res.Reasons[0], "does not verify") {
				t.Errorf("verdict %s %v, want refused because it does not verify (%s)", res.Verdict, res.Reasons, want)
			}
		})
	}
	for _, f := range []string{"packed", "tpm", "android-key", "apple", "fido-u2f", "none"} {
		if !formats[f] {
			t.Errorf("no %s vector verified", f)
		}
	}
}

func TestInspectJudgesAgainstTheProfile(t *testing.T) {
	vectors, err := testvectors.LoadRegistrations()
	if err != nil {
		t.Fatal(err)
	}
	var v testvectors.Vector
	for _, c := range vectors {
		if c.Name == "packed-yubico-security-key-nfc" {
			v = c
		}
	}
	if v.Name == "" {
		t.Fatal("vector packed-yubico-security-key-nfc missing")
	}
	tests := []struct {
		name    string
		profile func(p *policy.PasskeyProfile)
		verdict string
		reason  string
	}{
		{"allowed_without_restrictions", func(*policy.PasskeyProfile) {}, "allowed", ""},
		{"refused_when_blocked", func(p *policy.PasskeyProfile) {
			p.KeyRestrictions = policy.KeyRestrictions{IsEnforced: true, EnforcementType: policy.EnforcementBlock, AAGUIDs: []string{v.Expect.AAGUID}}
		}, "refused", "is blocked by your organisation's policy"},
		{"refused_when_not_on_allow_list", func(p *policy.PasskeyProfile) {
			p.KeyRestrictions = policy.KeyRestrictions{IsEnforced: true, EnforcementType: policy.EnforcementAllow, AAGUIDs: []string{"de1e552d-db1d-4423-a619-566b625cdc84"}}
		}, "refused", "is not on your organisation's list of allowed keys"},
		{"refused_when_attestation_enforced_without_mds", func(p *policy.PasskeyProfile) {
			p.AttestationEnforcement = policy.AttestationRegistrationOnly
		}, "refused", "could not be verified as genuine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := policy.DefaultProfile()
			tc.profile(&p)
			res, err := passkey.Inspect(passkey.InspectInput{Response: v.Response, Challenge: v.Challenge, Origin: v.Origin, RPID: v.RPID, Profile: p, Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.verdict || (tc.reason != "" && !strings.Contains(strings.Join(res.Reasons, " "), tc.reason)) {
				t.Errorf("verdict %s %v, want %s containing %q", res.Verdict, res.Reasons, tc.verdict, tc.reason)
			}
		})
	}
}

func TestInspectRejectsGarbage(t *testing.T) {
	for _, body := range []string{"", "{}", "not json", `{"id":"x","rawId":"x","type":"public-key","response":{"clientDataJSON":"!!","attestationObject":"AA"}}`} {
		_, err := passkey.Inspect(passkey.InspectInput{Response: []byte(body), Challenge: "abc", Origin: "https://example.com", RPID: "example.com", Profile: policy.DefaultProfile()})
		if err == nil || !strings.Contains(err.Error(), "could not be read") {
			t.Errorf("%q: err = %v, want a 'could not be read' error", body, err)
		}
	}
}

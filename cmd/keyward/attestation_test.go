package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/passkey/testvectors"
)

// registrationVector returns a real authenticator's registration response
// that go-webauthn verifies today, written to a file.
func registrationVector(t *testing.T, name string) (testvectors.Vector, string) {
	t.Helper()
	vectors, err := testvectors.LoadRegistrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		if v.Name == name {
			if want := v.WantError(time.Now()); want != "" {
				t.Fatalf("vector %s no longer verifies (%s); pick another", name, want)
			}
			return v, writeTemp(t, name+".json", string(v.Response))
		}
	}
	t.Fatalf("no registration vector %s", name)
	return testvectors.Vector{}, ""
}

// inspect runs attestation inspect and decodes its JSON; the exit code is returned.
func (c cli) inspect(args ...string) (passkey.InspectResult, result) {
	c.t.Helper()
	r := c.run(append([]string{"attestation", "inspect"}, args...)...)
	var res passkey.InspectResult
	if r.code == 0 || r.code == 2 {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			c.t.Fatalf("attestation inspect printed no JSON (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
	}
	return res, r
}

func vectorArgs(v testvectors.Vector, file string) []string {
	return []string{"--response", file, "--challenge", v.Challenge, "--origin", v.Origin, "--rp-id", v.RPID}
}

func TestAttestationInspectOnSQLite(t *testing.T) {
	testAttestationInspect(t, sqliteEnv(t))
}

func TestAttestationInspectOnPostgres(t *testing.T) {
	testAttestationInspect(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

func testAttestationInspect(t *testing.T, env []string) {
	c := cli{t: t, env: env}
	c.ok("migrate")
	v, file := registrationVector(t, "packed-yubico-security-key-nfc")
	args := vectorArgs(v, file)

	t.Run("a_real_key_is_allowed_by_the_default_profile", func(t *testing.T) {
		c.t = t
		res, r := c.inspect(args...)
		if r.code != 0 || res.Verdict != "allowed" || len(res.Reasons) != 0 {
			t.Fatalf("exit %d, %+v\n%s", r.code, res, r.stderr)
		}
		if res.AAGUID != v.Expect.AAGUID || res.Format != "packed" || res.AttestationType != "basic_full" ||
			res.AttestationLevel != "notAttested" || res.BackupEligible ||
			strings.Join(res.CertificateSubjects, "|") != strings.Join(v.Expect.CertificateSubjects, "|") {
			t.Fatalf("result %+v", res)
		}
		for _, field := range []string{`"aaguid"`, `"format"`, `"attestationType"`, `"attestationLevel"`, `"model"`,
			`"certificateSubjects"`, `"backupEligible"`, `"verdict"`, `"reasons"`} {
			if !strings.Contains(r.stdout, field) {
				t.Errorf("output lacks %s:\n%s", field, r.stdout)
			}
		}
	})
	t.Run("blocked_aaguid_is_refused_with_exit_2", func(t *testing.T) {
		c.t = t
		res, r := c.inspect(append(args, "--block", strings.ToUpper(v.Expect.AAGUID))...)
		if r.code != 2 || res.Verdict != "refused" || !strings.Contains(strings.Join(res.Reasons, " "), "is blocked by your organisation's policy") {
			t.Fatalf("exit %d, %+v", r.code, res)
		}
		if r.stderr != "" {
			t.Errorf("a refusal is a result, not an error; stderr:\n%s", r.stderr)
		}
	})
	t.Run("not_on_the_allow_list_is_refused", func(t *testing.T) {
		c.t = t
		res, r := c.inspect(append(args, "--allow", msAndroid, "--allow", msIOS)...)
		if r.code != 2 || !strings.Contains(strings.Join(res.Reasons, " "), "is not on your organisation's list of allowed keys") {
			t.Fatalf("exit %d, %+v", r.code, res)
		}
	})
	t.Run("enforced_attestation_without_mds_is_refused", func(t *testing.T) {
		c.t = t
		res, r := c.inspect(append(args, "--enforce-attestation")...)
		if r.code != 2 || res.AttestationLevel != "notAttested" ||
			!strings.Contains(strings.Join(res.Reasons, " "), "could not be verified as genuine") {
			t.Fatalf("exit %d, %+v", r.code, res)
		}
	})
	t.Run("without_flags_the_stored_default_profile_judges", func(t *testing.T) {
		c.t = t
		c.ok("policy", "passkey", "set", "--key-restrictions", "block", "--add-aaguid", v.Expect.AAGUID)
		res, r := c.inspect(args...)
		if r.code != 2 || !strings.Contains(strings.Join(res.Reasons, " "), "is blocked") {
			t.Fatalf("exit %d, %+v", r.code, res)
		}
		// Flags replace the stored profile altogether.
		if _, r := c.inspect(append(args, "--allow", v.Expect.AAGUID)...); r.code != 0 {
			t.Fatalf("with --allow: exit %d\n%s", r.code, r.stdout)
		}
		c.ok("policy", "passkey", "set", "--key-restrictions", "off")
	})
	t.Run("a_response_for_another_challenge_does_not_verify", func(t *testing.T) {
		c.t = t
		other := append([]string{}, args...)
		other[3] = base64.RawURLEncoding.EncodeToString([]byte("another challenge"))
		res, r := c.inspect(other...)
		if r.code != 2 || len(res.Reasons) == 0 || !strings.Contains(res.Reasons[0], "does not verify") {
			t.Fatalf("exit %d, %+v", r.code, res)
		}
	})
	t.Run("errors_exit_1", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"allow_and_block", append(append([]string{}, args...), "--allow", msAndroid, "--block", msIOS), "--allow and --block cannot be used together"},
			{"invalid_aaguid", append(append([]string{}, args...), "--block", "yubikey"), `--block: "yubikey" is not an AAGUID`},
			{"garbage_response", append([]string{"--response", writeTemp(t, "garbage.json", `{"id":"x"}`)}, args[2:]...), "could not be read"},
			{"missing_response", append([]string{"--response", filepath.Join(t.TempDir(), "none.json")}, args[2:]...), "none.json"},
			{"missing_flag", []string{"--response", file}, `required flag(s) "challenge", "origin", "rp-id" not set`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c.t = t
				c.fails(tt.want, append([]string{"attestation", "inspect"}, tt.args...)...)
			})
		}
	})
	t.Run("keys_of_a_ca_listed_in_mds_are_attested", func(t *testing.T) {
		testAttestedSoftKey(t, env)
	})
}

// testAttestedSoftKey registers software keys whose CA an imported MDS blob
// lists: a certified model is attested, a revoked one is not.
func testAttestedSoftKey(t *testing.T, env []string) {
	f := newMDSFixture(t)
	ca, err := softkey.NewCA("Contoso Attestation")
	if err != nil {
		t.Fatal(err)
	}
	softAAGUID := "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	f.extra = []mdstest.EntryOptions{
		{AAGUID: softAAGUID, Description: "Contoso Soft Key", Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{ca.RootPEM()}},
		{AAGUID: "a4e9fc6d-0000-4758-b8ba-37598bb5bbaa", Description: "Contoso Recalled Key", Statuses: []string{"REVOKED"}, AttestationRootPEMs: []string{ca.RootPEM()}},
	}
	c := cli{t: t, env: append(append([]string{}, env...), "KEYWARD_MDS_ROOTS="+f.rootFile)}
	c.ok("mds", "import", f.blobFile(100), "--root", f.rootFile)

	tests := []struct {
		name, aaguid, level, verdict, reason, model string
	}{
		{"certified_model", softAAGUID, "attested", "allowed", "", "Contoso Soft Key"},
		{"revoked_model", "a4e9fc6d-0000-4758-b8ba-37598bb5bbaa", "notAttested", "refused", "REVOKED", "Contoso Recalled Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			key := softkey.New(softkey.Options{AAGUID: uuid.MustParse(tt.aaguid), CA: ca})
			args := softKeyRegistration(t, key)
			res, r := c.inspect(append(args, "--enforce-attestation")...)
			if res.AttestationLevel != tt.level || res.Verdict != tt.verdict || res.Model != tt.model ||
				res.Format != "packed" || res.AAGUID != tt.aaguid || len(res.CertificateSubjects) == 0 ||
				!strings.Contains(strings.Join(res.Reasons, " "), tt.reason) {
				t.Fatalf("exit %d, %+v\n%s", r.code, res, r.stderr)
			}
			if want := map[string]int{"allowed": 0, "refused": 2}[tt.verdict]; r.code != want {
				t.Fatalf("exit %d, want %d", r.code, want)
			}
		})
	}
}

// softKeyRegistration has key answer creation options as a browser would
// and returns the inspect flags for its response.
func softKeyRegistration(t *testing.T, key *softkey.Authenticator) []string {
	t.Helper()
	const origin, rpID = "https://id.example.com", "id.example.com"
	challenge := make([]byte, 32)
	_, _ = rand.Read(challenge)
	b64 := base64.RawURLEncoding.EncodeToString
	options, err := json.Marshal(map[string]any{"publicKey": map[string]any{
		"challenge":              b64(challenge),
		"rp":                     map[string]string{"id": rpID, "name": "Keyward"},
		"user":                   map[string]string{"id": b64([]byte("user-1")), "name": "alice@example.com", "displayName": "Alice"},
		"pubKeyCredParams":       []map[string]any{{"type": "public-key", "alg": -7}},
		"authenticatorSelection": map[string]any{"residentKey": "required", "userVerification": "required"},
		"attestation":            "direct",
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := key.Register(options, origin)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"--response", writeTemp(t, "softkey.json", string(resp)), "--challenge", b64(challenge), "--origin", origin, "--rp-id", rpID}
}

// Without a database the profile comes from the flags or a new install's
// defaults; inspecting creates no database.
func TestAttestationInspectWithoutADatabase(t *testing.T) {
	dir := t.TempDir()
	c := cli{t: t, env: []string{"KEYWARD_DATA_DIR=" + dir, "KEYWARD_LOG_LEVEL=warn"}}
	v, file := registrationVector(t, "packed-yubico-security-key-nfc")
	res, r := c.inspect(append(vectorArgs(v, file), "--block", v.Expect.AAGUID)...)
	if r.code != 2 || res.Verdict != "refused" || !strings.Contains(r.stderr, "note: no database at "+filepath.Join(dir, "keyward.db")) {
		t.Fatalf("exit %d, %+v\nstderr: %s", r.code, res, r.stderr)
	}
	if res, r := c.inspect(vectorArgs(v, file)...); r.code != 0 || res.Verdict != "allowed" {
		t.Fatalf("default profile: exit %d, %+v", r.code, res)
	}
	if _, err := os.Stat(filepath.Join(dir, "keyward.db")); !os.IsNotExist(err) {
		t.Fatalf("inspect created a database (stat: %v)", err)
	}
}

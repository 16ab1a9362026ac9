package bench_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// The floor of a registration (docs/performance.md, "Registration"): what
// `keyward bench --scenario register` cannot do without, each part alone,
// to hold beside the 2 ms of CPU that 1,000 registrations a second leave
// server and client together on 2 cores. Run with
//
//	go test -run '^$' -bench 'RegistrationFloor' -benchmem ./internal/bench/
//
// (ns/op is CPU only when the machine is otherwise idle; valgrind's
// instruction counts are the repeatable measure.)

const floorOrigin = "http://localhost:8080"

// floorUser is a go-webauthn user with no credentials.
type floorUser struct{ id []byte }

func (u floorUser) WebAuthnID() []byte                         { return u.id }
func (u floorUser) WebAuthnName() string                       { return "floor@example.com" }
func (u floorUser) WebAuthnDisplayName() string                { return "Floor" }
func (u floorUser) WebAuthnCredentials() []webauthn.Credential { return nil }

// floorCeremony is one packed full attestation (leaf and intermediate of a
// CA made for it, the register scenario's model) with what go-webauthn
// needs to verify it.
type floorCeremony struct {
	wa       *webauthn.WebAuthn
	user     floorUser
	session  webauthn.SessionData
	options  []byte
	response []byte
	key      *softkey.Authenticator
}

func newFloorCeremony(b *testing.B) *floorCeremony {
	b.Helper()
	wa, err := webauthn.New(&webauthn.Config{RPID: "localhost", RPDisplayName: "floor", RPOrigins: []string{floorOrigin}})
	if err != nil {
		b.Fatal(err)
	}
	ca, err := softkey.NewCA("Keyward floor attestation")
	if err != nil {
		b.Fatal(err)
	}
	u := floorUser{id: []byte("floor-user-handle-0123456789abcd")}
	creation, session, err := wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	if err != nil {
		b.Fatal(err)
	}
	opts, err := json.Marshal(creation)
	if err != nil {
		b.Fatal(err)
	}
	k := softkey.New(softkey.Options{AAGUID: bench.RegisterAAGUID, Attestation: softkey.FormatPacked, CA: ca})
	resp, err := k.Register(opts, floorOrigin)
	if err != nil {
		b.Fatal(err)
	}
	return &floorCeremony{wa: wa, user: u, session: *session, options: opts, response: resp, key: k}
}

// BenchmarkRegistrationFloorClientAttestation is the load generator's part:
// a new credential key, the packed statement signed with the batch key
// (issued once, as a model's units share it), the response's JSON.
func BenchmarkRegistrationFloorClientAttestation(b *testing.B) {
	c := newFloorCeremony(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.key.Register(c.options, floorOrigin); err != nil {
			b.Fatal(err)
		}
		for _, kc := range c.key.Credentials() {
			_ = c.key.RemoveCredential(kc.ID)
		}
	}
}

// BenchmarkRegistrationFloorVerify is go-webauthn's part on the server:
// parsing the response (JSON, CBOR, the x5c certificates) and verifying the
// packed statement's signature with the leaf's key. The chain's own
// signatures are checked once per blob and then remembered (mds.Entry), so
// they are not part of the floor.
func BenchmarkRegistrationFloorVerify(b *testing.B) {
	c := newFloorCeremony(b)
	b.ReportAllocs()
	for b.Loop() {
		parsed, err := protocol.ParseCredentialCreationResponseBytes(c.response)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.wa.CreateCredential(c.user, c.session, parsed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegistrationFloorChainParse is parsing the attestation's two
// certificates (leaf and intermediate), which Keyward needs for the MDS
// check and the stored subjects.
func BenchmarkRegistrationFloorChainParse(b *testing.B) {
	c := newFloorCeremony(b)
	parsed, err := protocol.ParseCredentialCreationResponseBytes(c.response)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := parsed.Response.AttestationObject.AttStatement["x5c"].([]any)
	if len(raw) != 2 {
		b.Fatalf("x5c has %d certificates, want 2", len(raw))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, der := range raw {
			if _, err := x509.ParseCertificate(der.([]byte)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRegistrationFloorHTTP is the two requests of a registration with
// nothing behind them, client and server in this process over loopback: a
// GET answered with creation options of the real size, then a POST of the
// real registration body answered with a method of the real size.
func BenchmarkRegistrationFloorHTTP(b *testing.B) {
	c := newFloorCeremony(b)
	body := append(append([]byte(`{"displayName":"keyward bench key","publicKeyCredential":`), c.response...), '}')
	method := bytes.Repeat([]byte("m"), 600)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			_, _ = w.Write(c.options)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(method)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	do := func(method string, rd io.Reader) {
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/users/x/authentication/fido2Methods", rd)
		req.Header.Set("Authorization", "Bearer kw_0123456789abcdef0123456789abcdef")
		if rd != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportAllocs()
	for b.Loop() {
		do(http.MethodGet, nil)
		do(http.MethodPost, bytes.NewReader(body))
	}
}

// BenchmarkRegistrationFloorSQLiteWrite is the registration's transaction on
// Keyward's SQLite store: the used challenge, the credential (with its
// roll-up trigger) and the audit record, committed.
func BenchmarkRegistrationFloorSQLiteWrite(b *testing.B) {
	s := storagetest.NewSQLite(b).Open(b)
	ctx := context.Background()
	users := make([]string, 100)
	for i := range users {
		users[i] = uuid.NewString()
		if err := s.CreateUser(ctx, storage.User{ID: users[i], UserPrincipalName: users[i] + "@example.com",
			DisplayName: "Floor", AccountEnabled: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		err := s.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
			if err := s.UseChallenge(ctx, storage.UsedChallenge{ID: uuid.NewString(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return nil, err
			}
			c := storage.Credential{ID: uuid.NewString(), UserID: users[i%len(users)], CredentialID: []byte(uuid.NewString()),
				PublicKey: bytes.Repeat([]byte{1}, 77), AAGUID: bench.RegisterAAGUID.String(), Model: "Keyward bench attested key",
				DisplayName: "keyward bench key", AttestationFormat: "packed", AttestationType: "basic_full",
				AttestationLevel: storage.AttestationAttested, AttestationCertSubjects: []string{"CN=leaf", "CN=intermediate"},
				Transports: []string{"usb"}, UserVerified: true, CreatedAt: time.Now()}
			if err := s.CreateCredential(ctx, c); err != nil {
				return nil, err
			}
			e, err := storage.WithDetails(storage.AuditEvent{ID: uuid.NewString(), Time: time.Now(), Actor: "token:bench",
				Action: "user.fido2Method.create", Target: c.UserID}, map[string]any{"methodId": c.ID, "aaGuid": c.AAGUID})
			return []storage.AuditEvent{e}, err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

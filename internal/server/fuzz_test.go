package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/storage"
)

// FuzzCreateUser sends arbitrary bodies to POST /api/v1/users (through
// DecodeJSON, validation and the real store) and to DecodeJSON directly:
// nothing may panic, and no input may produce a 5xx.
func FuzzCreateUser(f *testing.F) {
	for _, seed := range []string{
		`{"userPrincipalName":"alice@example.com","displayName":"Alice"}`,
		`{"userPrincipalName":"a@b","displayName":"x","accountEnabled":false,"isEmergencyAccess":true}`,
		`{"userPrincipalName":"a@b","displayName":"x"} {}`,
		`{"userPrincipalName":null,"displayName":null}`,
		`{"userPrincipalName":"\u0000@\u0000","displayName":"\ud800"}`,
		`{"accountEnabled":"true"}`, `[]`, `null`, `""`, `{`, `}`, ``, `{"a":1}`,
		`{"displayName":1e999}`, `{"userPrincipalName":["x"]}`, "\xff\xfe",
		`{"userPrincipalName":"a@b","displayName":"x\u0000y"}`, "{\"userPrincipalName\":\"a@b\",\"displayName\":\"x\xffy\"}",
		`{"userPrincipalName":"a@b","displayName":"\u202egnp.exe"}`, `{"userPrincipalName":"a\u0085@b","displayName":"x"}`,
	} {
		f.Add(seed)
	}
	st := openStore(f)
	s := server.New(server.Deps{Store: st, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return testNow }})
	s.Mount(&server.DirectoryAPI{Directory: &directory.Service{Store: st, Now: func() time.Time { return testNow }}})
	h := s.Handler()
	sec := secret.New("kw_")
	if err := st.CreateAPIToken(f.Context(), storage.APIToken{ID: uuid.NewString(), Name: "fuzz",
		Role: storage.RoleGlobalAdmin, SecretHash: secret.Hash(sec), CreatedAt: testNow}); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+sec)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("POST %q = %d %s", body, w.Code, w.Body)
		}
		if w.Code == 201 {
			// What was stored is text a person can read: valid UTF-8, no
			// control or bidirectional formatting characters.
			var u struct{ UserPrincipalName, DisplayName string }
			if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{u.UserPrincipalName, u.DisplayName} {
				if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
					return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
				}) {
					t.Fatalf("POST %q stored %q", body, s)
				}
			}
		}
		if w.Code >= 400 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("POST %q = %d with a body that is not an API error: %s", body, w.Code, w.Body)
			}
		}

		var dst struct {
			Name  *string         `json:"name"`
			Flag  *bool           `json:"flag"`
			Count int             `json:"count"`
			Tags  []string        `json:"tags"`
			Any   json.RawMessage `json:"any"`
		}
		r = httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if err := server.DecodeJSON(httptest.NewRecorder(), r, &dst); err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
				t.Fatalf("DecodeJSON(%q) = %v, want a 4xx *apperr.Error", body, err)
			}
		}
	})
}

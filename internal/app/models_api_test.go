package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

const (
	modelsPath     = policyPath + "/models"
	msAndroid      = "de1e552d-db1d-4423-a619-566b625cdc84"
	msAndroidModel = "Microsoft Authenticator (Android)"
)

type keyModel struct {
	AAGUID string `json:"aaGuid"`
	Model  string `json:"model"`
	Source string `json:"source"`
}

// modelsQuery builds ?aaGuid=…&aaGuid=… in the order given.
func modelsQuery(ids ...string) string {
	q := make([]string, 0, len(ids))
	for _, id := range ids {
		q = append(q, "aaGuid="+url.QueryEscape(id))
	}
	return modelsPath + "?" + strings.Join(q, "&")
}

func decodeModels(t *testing.T, r reply) []keyModel {
	t.Helper()
	var body struct {
		Value []keyModel `json:"value"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Value == nil {
		t.Fatalf("models reply is not {\"value\": […]}: %v: %s", err, r.body)
	}
	return body.Value
}

func TestKeyModelNames(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		t.Run("mds_first_then_the_well_known_list_then_nothing", func(t *testing.T) {
			// goodAAGUID is also on the built-in list (as a YubiKey): MDS wins.
			got := decodeModels(t, w.mustStatus(w.do("GET", modelsQuery(
				strings.ToUpper(strings.ReplaceAll(goodAAGUID, "-", "")), msAndroid, unknownAAGUID, "{"+goodAAGUID+"}", revokedAAGUID,
			), bearer(w.reader), nil), http.StatusOK))
			want := []keyModel{
				{goodAAGUID, goodModel, "mds"},
				{msAndroid, msAndroidModel, "wellKnown"},
				{unknownAAGUID, "", ""},
				{revokedAAGUID, revokedModel, "mds"},
			}
			if !slices.Equal(got, want) {
				t.Fatalf("models = %+v, want %+v (normalised, repeats answered once, in order)", got, want)
			}
		})
		t.Run("no_aaguid_is_an_empty_list", func(t *testing.T) {
			if got := decodeModels(t, w.mustStatus(w.do("GET", modelsPath, bearer(w.reader), nil), http.StatusOK)); len(got) != 0 {
				t.Fatalf("models = %+v, want none", got)
			}
		})
		t.Run("a_whole_allow_list_of_1000_in_one_request", func(t *testing.T) {
			ids := make([]string, 1000)
			for i := range ids {
				ids[i] = uuid.NewString()
			}
			ids[999] = goodAAGUID
			got := decodeModels(t, w.mustStatus(w.do("GET", modelsQuery(ids...), bearer(w.admin), nil), http.StatusOK))
			if len(got) != 1000 || got[999] != (keyModel{goodAAGUID, goodModel, "mds"}) {
				t.Fatalf("got %d models, last %+v", len(got), got[len(got)-1])
			}
		})

		tooMany := make([]string, 1001)
		for i := range tooMany {
			tooMany[i] = goodAAGUID
		}
		for _, tc := range []struct{ name, path, fragment string }{
			{"malformed_aaguid_is_named", modelsQuery(goodAAGUID, "not-an-aaguid"), `"not-an-aaguid" is not an AAGUID`},
			{"every_malformed_aaguid_is_named", modelsQuery("xyz", goodAAGUID, ""), `"xyz", ""`},
			{"more_than_1000", modelsQuery(tooMany...), "at most 1000"},
			{"unreadable_query", modelsPath + "?aaGuid=%zz", "query string"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, w.do("GET", tc.path, bearer(w.reader), nil), http.StatusBadRequest, "invalidRequest", tc.fragment)
			})
		}

		t.Run("admin_roles_only", func(t *testing.T) {
			wantError(t, w.do("GET", modelsQuery(goodAAGUID), cred{}, nil), http.StatusUnauthorized, "unauthenticated", "")
			alice := w.user("alice@contoso.com")
			wantError(t, w.do("GET", modelsQuery(goodAAGUID), cookie(w.session(alice, true)), nil), http.StatusForbidden, "forbidden", "reader")
			w.mustStatus(w.do("GET", modelsQuery(goodAAGUID), bearer(w.token("helpdesk", storage.RoleAuthenticationAdmin)), nil), http.StatusOK)
		})
	})
}

// TestKeyModelNamesWithoutMDS: before any MDS blob is imported the
// built-in list still names the well-known models.
func TestKeyModelNamesWithoutMDS(t *testing.T) {
	t.Parallel()
	store := storagetest.NewSQLite(t).Open(t)
	srv := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	public := &url.URL{Scheme: "http", Host: "localhost:" + port}
	a, err := app.New(app.Options{Store: store, PublicURL: public, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	tok := secret.New("kw_")
	if err := store.CreateAPIToken(context.Background(), storage.APIToken{
		ID: uuid.NewString(), Name: "auditor", Role: storage.RoleReader, SecretHash: secret.Hash(tok), CreatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest("GET", srv.URL+modelsQuery(goodAAGUID, msAndroid, unknownAAGUID), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	got := decodeModels(t, reply{status: res.StatusCode, body: body})
	want := []keyModel{
		{goodAAGUID, "YubiKey 5 Series with NFC", "wellKnown"},
		{msAndroid, msAndroidModel, "wellKnown"},
		{unknownAAGUID, "", ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("models = %+v, want %+v", got, want)
	}
}

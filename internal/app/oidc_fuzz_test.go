package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzOIDCRequests throws arbitrary authorization requests, hand-offs,
// step-up links and token requests at the provider, as a signed-in browser
// and as a registered app with its real secret. Whatever arrives, nothing
// is a server error, a browser is only ever redirected within Keyward or to
// the app's registered redirect URI, and a token is issued only for the
// client credentials grant.
func FuzzOIDCRequests(f *testing.F) {
	w := newFuzzWorld(f)
	const redirect = "https://app.example/cb"
	p := w.newApp(f, "App", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
	good := url.Values{"client_id": {p.appID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid profile"},
		"state": {"s"}, "nonce": {"n"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	f.Add(good.Encode(), "grant_type=authorization_code&code=abc&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&redirect_uri="+url.QueryEscape(redirect))
	f.Add(good.Encode()+"&acr_values=phrh&prompt=none&max_age=0", "grant_type=refresh_token&refresh_token=kwr_x")
	f.Add("client_id="+p.appID+"&redirect_uri=https%3A%2F%2Fevil.example%2F&response_type=code", "grant_type=client_credentials&scope=openid")
	f.Add("id=00000000-0000-0000-0000-000000000000&acr=phr&next=%2F%2Fevil.example", "grant_type=password&username=a&password=b")
	f.Add("response_type=token&client_id=%00&request=eyJ", "grant_type=authorization_code&code=%ff%fe")
	handler := w.apps[0].Handler()
	f.Fuzz(func(t *testing.T, query, form string) {
		for _, path := range []string{"/oauth2/authorize", "/oauth2/continue", "/login/step-up", "/oauth2/logout"} {
			req := httptest.NewRequest("GET", "/", nil)
			req.URL.Path, req.URL.RawQuery = path, query
			req.AddCookie(&http.Cookie{Name: "keyward_session", Value: w.fuzzSession})
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("GET %s?%s: %d %s", path, query, rec.Code, rec.Body)
			}
			if loc := rec.Header().Get("Location"); rec.Code >= 300 && rec.Code < 400 &&
				!strings.HasPrefix(loc, redirect+"?") && !(strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//")) {
				t.Fatalf("GET %s?%s redirects to %q: neither Keyward nor the registered URI", path, query, loc)
			}
		}
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(p.appID, p.secret)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST /oauth2/token %q: %d %s", form, rec.Code, rec.Body)
		}
		if v, err := url.ParseQuery(form); rec.Code == http.StatusOK && (err != nil || v.Get("grant_type") != "client_credentials") {
			t.Fatalf("POST /oauth2/token %q issued tokens: %s", form, rec.Body)
		}
	})
}

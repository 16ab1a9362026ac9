package app_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/storage/storagetest"
)

// oidcBenchWorld is an app and a signed-in browser on SQLite.
func oidcBenchWorld(b *testing.B) (*world, *rp, *browser) {
	return oidcSignedIn(b, newWorld(b, storagetest.NewSQLite(b)))
}

// oidcSignedIn registers a web app with a secret in w and gives a browser
// with a signed-in user's session.
func oidcSignedIn(b testing.TB, w *world) (*world, *rp, *browser) {
	alice := w.user("alice@contoso.com")
	p := w.newApp(b, "Bench", map[string]any{"web": map[string]any{"redirectUris": []string{"https://bench.example/cb"}}}, true)
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(w.origin())
	jar.SetCookies(u, []*http.Cookie{{Name: "keyward_session", Value: w.session(alice, true)}})
	br := &browser{t: b, w: w, client: &http.Client{Jar: jar, Transport: toNode{w, new(int)},
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Host != w.public.Host {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
	return w, p, br
}

// code runs an authorization with the browser's session and returns the code.
func (br *browser) code(b testing.TB, p *rp, f flow) string {
	res, err := br.client.Get(f.url)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		b.Fatalf("no code: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// BenchmarkOIDCCodeExchange is the token endpoint redeeming a code with PKCE
// and a client secret over real HTTP on SQLite: the request docs/design.md wants
// to cost less server CPU than a passkey sign-in (BenchmarkPasskeySignIn).
func BenchmarkOIDCCodeExchange(b *testing.B) {
	_, p, br := oidcBenchWorld(b)
	codeExchanges(b, p, br)
}

// BenchmarkOIDCCodeExchangePostgres is BenchmarkOIDCCodeExchange on
// PostgreSQL (KEYWARD_TEST_POSTGRES_DSN), where keyward bench found the
// exchange's server CPU closest to a sign-in's.
func BenchmarkOIDCCodeExchangePostgres(b *testing.B) {
	_, p, br := oidcSignedIn(b, newWorld(b, storagetest.NewPostgres(b)))
	codeExchanges(b, p, br)
}

func codeExchanges(b *testing.B, p *rp, br *browser) {
	ctx := p.ctx()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		f := p.start()
		code := br.code(b, p, f)
		b.StartTimer()
		if _, err := p.conf.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOIDCRefresh is one refresh-token rotation after another.
func BenchmarkOIDCRefresh(b *testing.B) {
	_, p, br := oidcBenchWorld(b)
	ctx := p.ctx()
	f := p.start()
	tok, err := p.conf.Exchange(ctx, br.code(b, p, f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tok, err = p.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOIDCAuthorizeWithSession is a signed-in browser's sign-in to an
// app over real HTTP on SQLite: GET /oauth2/authorize with a Keyward
// session, answered with the redirect to the app and its code (the
// hand-off and the callback run within the request; the request is
// written once, with its code and its sign-in record).
func BenchmarkOIDCAuthorizeWithSession(b *testing.B) {
	_, p, br := oidcBenchWorld(b)
	authorizations(b, p, br)
}

// BenchmarkOIDCAuthorizeWithSessionPostgres is
// BenchmarkOIDCAuthorizeWithSession on PostgreSQL
// (KEYWARD_TEST_POSTGRES_DSN): four statements an authorization.
func BenchmarkOIDCAuthorizeWithSessionPostgres(b *testing.B) {
	_, p, br := oidcSignedIn(b, newWorld(b, storagetest.NewPostgres(b)))
	authorizations(b, p, br)
}

func authorizations(b *testing.B, p *rp, br *browser) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		br.code(b, p, p.start())
	}
}

package app_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Wrong client secrets sent at once are counted up to the limit (10) and all
// refused; then even the right secret waits for the window to end. (The token endpoint answers invalid_client either way, so
// the count is read where the provider keeps it.)
func TestOIDCConcurrentWrongSecretsStopAtTheLimit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		p := w.newApp(t, "App", map[string]any{"web": map[string]any{"redirectUris": []string{"https://app.example/cb"}}}, true)
		token := func(secret string) error {
			cc := clientcredentials.Config{ClientID: p.appID, ClientSecret: secret, TokenURL: p.provider.Endpoint().TokenURL}
			_, err := cc.Token(p.ctx())
			return err
		}
		const n = 30
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				var re *oauth2.RetrieveError
				if err := token("kwcs_wrong" + itoa(i)); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
					t.Errorf("wrong secret: got %v, want invalid_client", err)
				}
			})
		}
		close(start)
		wg.Wait()
		checked, err := w.store.RateLimitCount(context.Background(), "oidc-client:"+p.objectID, 15*time.Minute, w.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if checked != 10 {
			t.Fatalf("%d of %d wrong secrets sent at once were counted, want 10 (the limit)", checked, n)
		}
		if err := token(p.secret); err == nil {
			t.Fatal("the right secret was accepted after the limit was reached")
		}
		w.clock.Advance(15 * time.Minute)
		if err := token(p.secret); err != nil {
			t.Fatalf("the right secret in the next window: %v", err)
		}
	})
}

// A busy confidential client sends more token requests at once than the
// failure limit: every one with the right secret is answered, and none of
// them counts as a failure.
func TestOIDCConcurrentRightSecretsAreNotLimited(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		p := w.newApp(t, "Busy app", map[string]any{"web": map[string]any{"redirectUris": []string{"https://app.example/cb"}}}, true)
		cc := clientcredentials.Config{ClientID: p.appID, ClientSecret: p.secret, TokenURL: p.provider.Endpoint().TokenURL}
		const n = 200
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				<-start
				if _, err := cc.Token(p.ctx()); err != nil {
					t.Errorf("right secret among %d at once: %v", n, err)
				}
			})
		}
		close(start)
		wg.Wait()
		failures, err := w.store.RateLimitCount(context.Background(), "oidc-client:"+p.objectID, 15*time.Minute, w.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if failures != 0 {
			t.Fatalf("%d right secrets counted as failures", failures)
		}
	})
}

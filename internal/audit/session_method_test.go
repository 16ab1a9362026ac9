package audit

import (
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

// A sign-in to an app with an existing session (recorded by conditional
// access) names its app and reads as Entra's "Previously satisfied".
func TestAppSignInWithASession(t *testing.T) {
	s := NewSignIn(storage.SignInEvent{ID: "e1", Method: "session", Result: storage.ResultSuccess, AppID: "a1", AppDisplayName: "Wiki",
		ConditionalAccessStatus: "success"})
	if s.AppID != "a1" || s.AppDisplayName != "Wiki" || s.AuthenticationDetails[0].AuthenticationMethod != "Previously satisfied" ||
		s.ConditionalAccessStatus != "success" {
		t.Fatalf("%+v", s)
	}
}

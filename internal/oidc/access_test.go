package oidc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// accessRules stands in for conditional access behind the provider's
// Access hook: it answers with a set verdict and records what it was asked.
type accessRules struct {
	verdict AccessVerdict
	asked   []string // session ID and app ID
}

func (a *accessRules) check(_ context.Context, req AccessRequest) (AccessVerdict, error) {
	a.asked = append(a.asked, req.Session.ID+" "+req.AppID)
	return a.verdict, nil
}

// TestContinueAsksTheAccessRules: the verdict of the Access hook decides the
// step once the session meets the app's acr_values — a block is a page, a
// step-up with a passkey ACR the step-up page, another step-up the sign-in
// page, and prompt=none interaction_required — while acr_values the session
// does not meet go to the step-up before the hook is asked.
func TestContinueAsksTheAccessRules(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	st := storagetest.NewSQLite(t).Open(t)
	rules := &accessRules{}
	p, err := New(Config{Store: st, Issuer: "https://id.example.com", Now: func() time.Time { return now }, Access: rules.check})
	if err != nil {
		t.Fatal(err)
	}
	app := storage.Application{ID: "a1", AppID: "11111111-2222-3333-4444-555555555555", DisplayName: "Payroll",
		WebRedirectURIs: []string{"https://payroll.example/cb"}, CreatedAt: now, UpdatedAt: now}
	user := storage.User{ID: "u1", UserPrincipalName: "ann@example.com", AccountEnabled: true, CreatedAt: now, UpdatedAt: now}
	for _, err := range []error{st.CreateApplication(ctx, app), st.CreateUser(ctx, user)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	sess := &storage.Session{ID: "s1", UserID: user.ID, AuthMethods: []string{"pwd", "otp", "mfa"}, CreatedAt: now.Add(-time.Minute)}
	request := func(acr string, prompt ...string) string {
		var acrs oidc.SpaceDelimitedArray
		if acr != "" {
			acrs = oidc.SpaceDelimitedArray{acr}
		}
		a, err := opStorage{p}.CreateAuthRequest(ctx, &oidc.AuthRequest{ClientID: app.AppID, RedirectURI: app.WebRedirectURIs[0],
			ResponseType: oidc.ResponseTypeCode, Scopes: []string{"openid"}, State: "st", Prompt: prompt, ACRValues: acrs}, "")
		if err != nil {
			t.Fatal(err)
		}
		return a.GetID()
	}

	for _, tc := range []struct {
		name    string
		verdict AccessVerdict
		acr     string
		prompt  []string
		asked   bool
		kind    StepKind
		check   func(Step) bool
	}{
		{"a_grant_goes_back_to_the_app", AccessVerdict{Decision: AccessGrant}, "", nil, true, StepRedirect,
			func(s Step) bool { return s.URL != "" }},
		{"a_block_is_a_page_with_the_reason", AccessVerdict{Decision: AccessBlock, Text: "Only from the office."}, "", nil, true, StepRefuse,
			func(s Step) bool { return s.Text == "Only from the office." && strings.Contains(s.Title, "Payroll") }},
		{"a_step_up_with_a_passkey_acr_is_the_step_up_page", AccessVerdict{Decision: AccessStepUp, ACR: "phrh", Text: "Use a key."}, "", nil, true, StepStepUp,
			func(s Step) bool { return s.ACR == "phrh" && s.Text == "Use a key." }},
		{"another_step_up_is_the_sign_in_page", AccessVerdict{Decision: AccessStepUp, Text: "Sign in again."}, "", nil, true, StepSignIn,
			func(s Step) bool { return s.Fresh && s.Text == "Sign in again." }},
		{"acr_values_the_session_meets_ask_the_hook", AccessVerdict{Decision: AccessGrant}, ACRMultiFactor, nil, true, StepRedirect,
			func(Step) bool { return true }},
		{"acr_values_it_does_not_meet_step_up_first", AccessVerdict{Decision: AccessGrant}, "phr", nil, false, StepStepUp,
			func(s Step) bool { return s.ACR == "phr" }},
		{"prompt_none_gets_interaction_required", AccessVerdict{Decision: AccessGrant}, "phr", []string{"none"}, false, StepRedirect,
			func(s Step) bool {
				return strings.Contains(s.URL, "error=interaction_required") && strings.Contains(s.URL, "state=st")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules.verdict, rules.asked = tc.verdict, nil
			step, err := p.Continue(ctx, request(tc.acr, tc.prompt...), sess, nil)
			if err != nil {
				t.Fatal(err)
			}
			if step.Kind != tc.kind || !tc.check(step) {
				t.Fatalf("step %+v", step)
			}
			if asked := len(rules.asked) == 1 && rules.asked[0] == sess.ID+" "+app.AppID; asked != tc.asked {
				t.Fatalf("the hook was asked %v, want asked %v", rules.asked, tc.asked)
			}
		})
	}
}

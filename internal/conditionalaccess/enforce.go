package conditionalaccess

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Target is what a session is used for: an application by app ID, or a
// user action such as access.UserActionRegisterSecurityInfo.
type Target struct {
	AppID      string
	UserAction string
}

// Check evaluates the policies for a session used for target from the
// client address ip (as trusted_proxies resolve it; "" = unknown). user is
// the session's user when the caller has it loaded (nil: it is read). With
// no policy stored it costs one cheap version query.
func (s *Service) Check(ctx context.Context, sess storage.Session, user *storage.User, target Target, ip string) (access.Decision, error) {
	c, err := s.Current(ctx)
	if err != nil {
		return access.Decision{}, err
	}
	if len(c.Policies) == 0 {
		return access.Decision{Decision: access.Grant, Status: access.StatusNotApplied, Policies: []access.Result{}}, nil
	}
	if user == nil {
		u, err := s.Store.GetUser(ctx, sess.UserID)
		if err != nil {
			return access.Decision{}, fmt.Errorf("conditional access: load user: %w", err)
		}
		user = &u
	}
	groups, err := s.Store.UserGroupIDs(ctx, user.ID)
	if err != nil {
		return access.Decision{}, fmt.Errorf("conditional access: load groups: %w", err)
	}
	addr, _ := netip.ParseAddr(ip)
	return c.Set.Evaluate(access.Request{
		User:  access.Subject{ID: user.ID, GroupIDs: groups, Role: user.AdminRole, IsEmergencyAccess: user.IsEmergencyAccess},
		AppID: target.AppID, UserAction: target.UserAction, IP: addr,
		Proof:      access.Proof{Methods: access.MethodsFromAMR(sess.AuthMethods, false), AAGUID: sess.AAGUID},
		LastSignIn: sess.CreatedAt, Now: s.Now().UTC(),
	}), nil
}

// Explain says in a sentence what a decision asks of the person.
func Explain(d access.Decision) string {
	switch d.Decision {
	case access.Block:
		return fmt.Sprintf("Your organisation's conditional access policy %q blocks this sign-in.", d.BlockedBy)
	case access.StepUp:
		var needs []string
		for _, st := range d.RequiredStrengths {
			n := st.DisplayName
			if ids := st.AllowedAAGUIDs(); len(ids) > 0 {
				n += " (only with a passkey of model " + policy.ModelNames(ids) + ")"
			} else if st.NeedsFido2() {
				n += " (a passkey or security key)"
			}
			needs = append(needs, n)
		}
		if len(needs) == 0 {
			return "Your organisation asks you to sign in again."
		}
		return "Your organisation requires " + strings.Join(needs, " and ") + " here: sign in again with a method that satisfies it."
	}
	return ""
}

// OIDCVerdict is Check for a sign-in to an OpenID Connect application, in
// the provider's terms (the session's address stands for the client's).
// Every sign-in is recorded in the sign-in log with the application and
// what conditional access made of it: one granted in the verdict's Record,
// which the provider stores with what completes it (the authorization
// request, a refresh token's rotation); a refusal here.
func (s *Service) OIDCVerdict(ctx context.Context, req oidc.AccessRequest) (oidc.AccessVerdict, error) {
	sess := req.Session
	u := req.User
	if u == nil {
		read, err := s.Store.GetUser(ctx, sess.UserID)
		if err != nil {
			return oidc.AccessVerdict{}, fmt.Errorf("conditional access: load user: %w", err)
		}
		u = &read
	}
	d, err := s.Check(ctx, sess, u, Target{AppID: req.AppID}, sess.IP)
	if err != nil {
		return oidc.AccessVerdict{}, err
	}
	v := oidc.AccessVerdict{Decision: d.Decision, Text: Explain(d)}
	allPasskey := len(d.RequiredStrengths) > 0
	for _, st := range d.RequiredStrengths {
		v.Passkey = v.Passkey || st.NeedsFido2()
		allPasskey = allPasskey && st.NeedsFido2()
	}
	// Strengths that only a passkey meets are what the passkey step-up page
	// gives (phr), restricted to the key models every strength allows; when
	// no model meets them all, the sign-in page explains.
	if models, ok := StepUpModels(d.RequiredStrengths); d.Decision == access.StepUp && allPasskey && ok {
		v.ACR, v.Models = oidc.ACRPhishingResistant, models
	}
	// A sign-in with the browser's session is interactive; one with a
	// refresh token (no session) is not, is logged as such, and shows the
	// address of the client that sent it.
	method := MethodSession
	if sess.ID == "" {
		method = MethodRefreshToken
		if sess.IP == "" {
			sess.IP, sess.UserAgent = req.Client.IP, req.Client.UserAgent
		}
	}
	e, err := s.appSignIn(ctx, sess, *u, req.AppID, req.AppName, d, method)
	if err != nil {
		return oidc.AccessVerdict{}, err
	}
	if d.Decision == access.Grant {
		v.Record = &e
		return v, nil
	}
	if err := s.Store.RecordSignIn(ctx, storage.SignInRecord{Event: e}); err != nil {
		return oidc.AccessVerdict{}, err
	}
	return v, nil
}

// recordAppSignIn writes the sign-in log line of a sign-in to an app (once
// per session and surface when once is set).
func (s *Service) recordAppSignIn(ctx context.Context, sess storage.Session, u storage.User, appID string, d access.Decision, method string, once *storage.OnceKey) error {
	e, err := s.appSignIn(ctx, sess, u, appID, "", d, method)
	if err != nil {
		return err
	}
	return s.Store.RecordSignIn(ctx, storage.SignInRecord{Event: e, Once: once})
}

// appSignIn is the sign-in log line of a sign-in to an app; name is the
// app's display name, read when "" and the app is not built in.
func (s *Service) appSignIn(ctx context.Context, sess storage.Session, u storage.User, appID, name string, d access.Decision, method string) (storage.SignInEvent, error) {
	if name == "" {
		name = access.BuiltInApps[appID]
	}
	if name == "" {
		app, err := s.Store.GetApplicationByAppID(ctx, appID)
		if err != nil {
			return storage.SignInEvent{}, fmt.Errorf("conditional access: load application: %w", err)
		}
		name = app.DisplayName
	}
	e := storage.SignInEvent{Time: s.Now().UTC(), UserID: u.ID, UserPrincipalName: u.UserPrincipalName, Method: method,
		Result: storage.ResultSuccess, IP: sess.IP, UserAgent: sess.UserAgent, AppID: appID, AppDisplayName: name,
		ConditionalAccessStatus: d.Status, AuthenticationRequirement: requirement(d)}
	switch d.Decision {
	case access.Block:
		e.Result, e.FailureCode, e.FailureReason = storage.ResultFailure, CodeBlocked, Explain(d)
	case access.StepUp:
		e.Result, e.FailureCode, e.FailureReason = storage.ResultFailure, CodeStepUp, Explain(d)
	}
	for _, p := range d.Policies {
		e.AppliedConditionalAccessPolicies = append(e.AppliedConditionalAccessPolicies, storage.AppliedConditionalAccessPolicy{
			ID: p.ID, DisplayName: p.DisplayName, EnforcedGrantControls: p.EnforcedGrantControls, Result: p.Result})
	}
	return e, nil
}

// MethodSession is the sign-in log's method of a sign-in to an app made
// with an existing Keyward session (Graph: "Previously satisfied").
const MethodSession = "session"

// MethodRefreshToken is the sign-in log's method of a token refresh: a
// non-interactive sign-in (Graph's isInteractive false).
const MethodRefreshToken = oidc.MethodRefreshToken

// requirement is Graph's authenticationRequirement of a decision: multi-
// factor when an enforced policy that applied asked for mfa or a strength.
func requirement(d access.Decision) string {
	for _, p := range d.Policies {
		if p.Result != access.ResultSuccess && p.Result != access.ResultFailure {
			continue
		}
		for _, g := range p.EnforcedGrantControls {
			if g == "Mfa" || g == "RequireAuthenticationStrength" {
				return "multiFactorAuthentication"
			}
		}
	}
	return "singleFactorAuthentication"
}

// Surface is Check for Keyward's own surfaces (the admin API and My
// security info with a session), as the HTTP edge answers it: nil, or a 403
// *apperr.Error saying what the person must do.
func (s *Service) Surface(ctx context.Context, sess storage.Session, user storage.User, appID, userAction, ip string) error {
	d, err := s.Check(ctx, sess, &user, Target{AppID: appID, UserAction: userAction}, ip)
	if err != nil {
		return apperr.Internal(err)
	}
	// The sign-in log has every refusal, and a session's first successful
	// use of each surface that a policy applied to (the session remembers
	// it: not every request). A use no policy applied to adds nothing to
	// the record of the sign-in itself. A user action is done in My
	// security info, whose use is logged: only its refusals are.
	surface, logApp := appID, appID
	if userAction != "" {
		surface, logApp = userAction, access.AppMySecurityInfo
	}
	if d.Decision != access.Grant || (userAction == "" && d.Status != access.StatusNotApplied && !sess.Logged(surface)) {
		var once *storage.OnceKey
		if d.Decision == access.Grant {
			once = &storage.OnceKey{SessionID: sess.ID, Surface: surface}
		}
		logged := sess
		logged.IP = ip
		if err := s.recordAppSignIn(ctx, logged, user, logApp, d, MethodSession, once); err != nil {
			return apperr.Internal(err)
		}
	}
	switch d.Decision {
	case access.Block:
		return apperr.New(http.StatusForbidden, CodeBlocked, "%s", Explain(d))
	case access.StepUp:
		return apperr.New(http.StatusForbidden, CodeStepUp, "%s", Explain(d))
	}
	return nil
}

// StepUpModels is the key models (AAGUIDs) a passkey must be of to meet
// every one of strengths: nil when none restricts models, and ok false when
// the restrictions leave no model at all.
func StepUpModels(strengths []access.Strength) (models []string, ok bool) {
	restricted := false
	for _, st := range strengths {
		ids := st.AllowedAAGUIDs()
		if len(ids) == 0 {
			continue
		}
		var allowed []string
		for _, id := range ids {
			id = strings.ToLower(id)
			if (!restricted || slices.Contains(models, id)) && !slices.Contains(allowed, id) {
				allowed = append(allowed, id)
			}
		}
		models, restricted = allowed, true
	}
	return models, !restricted || len(models) > 0
}

// Registration is Check for adding a sign-in method from My security info
// right after a fresh multi-factor sign-in with the session's methods — what
// the step-up page asks before it sends someone without a suitable passkey
// to register one: the first decision of My security info and of the user
// action urn:user:registersecurityinfo that is not a grant, or a grant.
// A fresh sign-in meets any sign-in frequency, so only the methods and the
// place count.
func (s *Service) Registration(ctx context.Context, sess storage.Session, user storage.User, ip string) (access.Decision, error) {
	fresh := sess
	fresh.CreatedAt = s.Now().UTC()
	var d access.Decision
	for _, t := range []Target{{AppID: access.AppMySecurityInfo}, {UserAction: access.UserActionRegisterSecurityInfo}} {
		var err error
		if d, err = s.Check(ctx, fresh, &user, t, ip); err != nil || d.Decision != access.Grant {
			return d, err
		}
	}
	return d, nil
}

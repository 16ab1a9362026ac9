package conditionalaccess

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/storage"
)

// WhatIf is a sign-in to try against the policies without signing in
// (Graph's evaluate): methods in the strengths' vocabulary.
type WhatIf struct {
	UserID                string   `json:"userId"` // an ID or a UPN
	AppID                 string   `json:"appId"`
	UserAction            string   `json:"userAction,omitempty"`
	AuthenticationMethods []string `json:"authenticationMethods"`
	AAGUID                string   `json:"aaGuid"`
	IPAddress             string   `json:"ipAddress"`
}

// StrengthSummary names a strength a step-up must satisfy, with the key
// models it is restricted to (empty: any).
type StrengthSummary struct {
	ID             string   `json:"id"`
	DisplayName    string   `json:"displayName"`
	AllowedAAGUIDs []string `json:"allowedAAGUIDs"`
}

// PolicyResult is one policy's result in a what-if.
type PolicyResult struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Result      string `json:"result"`
}

// WhatIfResult is the answer of a what-if.
type WhatIfResult struct {
	Decision          string            `json:"decision"`
	RequiredStrengths []StrengthSummary `json:"requiredStrengths"`
	Reauthenticate    bool              `json:"reauthenticate"`
	Policies          []PolicyResult    `json:"policies"`
}

var modes = []string{access.ModeFido2, access.ModePassword, access.ModeSoftOATH, access.ModeTAPOnce, access.ModeTAPMulti}

// Evaluate answers a what-if with the current configuration.
func (s *Service) Evaluate(ctx context.Context, w WhatIf) (WhatIfResult, error) {
	var problems []string
	r := access.Request{Now: s.Now().UTC(), UserAction: w.UserAction}
	for _, m := range w.AuthenticationMethods {
		if !slices.Contains(modes, m) {
			problems = append(problems, fmt.Sprintf("authenticationMethods: %q is not a method (%s)", m, strings.Join(modes, ", ")))
		}
	}
	r.Proof.Methods = w.AuthenticationMethods
	if w.AAGUID != "" {
		u, err := uuid.Parse(w.AAGUID)
		if err != nil {
			problems = append(problems, fmt.Sprintf("aaGuid: %q is not an AAGUID", w.AAGUID))
		}
		r.Proof.AAGUID = u.String()
	}
	if w.IPAddress != "" {
		ip, err := netip.ParseAddr(w.IPAddress)
		if err != nil {
			problems = append(problems, fmt.Sprintf("ipAddress: %q is not an IP address", w.IPAddress))
		}
		r.IP = ip
	}
	switch {
	case w.UserAction != "" && w.UserAction != access.UserActionRegisterSecurityInfo:
		problems = append(problems, fmt.Sprintf("userAction: only %q", access.UserActionRegisterSecurityInfo))
	case w.UserAction != "" && w.AppID != "":
		problems = append(problems, "appId and userAction cannot both be set")
	case w.UserAction == "" && w.AppID == "":
		problems = append(problems, "appId: name the application (its appId, or Keyward admin "+access.AppAdmin+", My security info "+access.AppMySecurityInfo+")")
	}
	if w.UserID == "" {
		problems = append(problems, "userId: name the user (an ID or a user principal name)")
	}
	if len(problems) > 0 {
		return WhatIfResult{}, apperr.BadRequest("the what-if was not evaluated: %s", strings.Join(problems, "; "))
	}
	if w.AppID != "" {
		if _, builtIn := access.BuiltInApps[w.AppID]; !builtIn {
			if _, err := s.Store.GetApplicationByAppID(ctx, w.AppID); errors.Is(err, storage.ErrNotFound) {
				return WhatIfResult{}, apperr.NotFound("there is no application with appId %q", w.AppID)
			} else if err != nil {
				return WhatIfResult{}, err
			}
		}
		r.AppID = w.AppID
	}
	u, err := s.Store.GetUser(ctx, w.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		u, err = s.Store.GetUserByUPN(ctx, w.UserID)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return WhatIfResult{}, apperr.NotFound("there is no user %q", w.UserID)
	}
	if err != nil {
		return WhatIfResult{}, err
	}
	groups, err := s.Store.UserGroupIDs(ctx, u.ID)
	if err != nil {
		return WhatIfResult{}, err
	}
	r.User = access.Subject{ID: u.ID, GroupIDs: groups, Role: u.AdminRole, IsEmergencyAccess: u.IsEmergencyAccess}
	c, err := s.Current(ctx)
	if err != nil {
		return WhatIfResult{}, err
	}
	return Summarize(c.Set.Evaluate(r)), nil
}

// Summarize turns a decision into what the what-if answers.
func Summarize(d access.Decision) WhatIfResult {
	out := WhatIfResult{Decision: d.Decision, Reauthenticate: d.Reauthenticate,
		RequiredStrengths: []StrengthSummary{}, Policies: []PolicyResult{}}
	for _, st := range d.RequiredStrengths {
		aaguids := st.AllowedAAGUIDs()
		if aaguids == nil {
			aaguids = []string{}
		}
		out.RequiredStrengths = append(out.RequiredStrengths, StrengthSummary{ID: st.ID, DisplayName: st.DisplayName, AllowedAAGUIDs: aaguids})
	}
	for _, p := range d.Policies {
		out.Policies = append(out.Policies, PolicyResult{ID: p.ID, DisplayName: p.DisplayName, Result: p.Result})
	}
	return out
}

// Lint lists every policy and strength that affects an emergency-access account.
func (s *Service) Lint(ctx context.Context) ([]access.Finding, error) {
	c, err := s.Current(ctx)
	if err != nil {
		return nil, err
	}
	es, err := s.Store.ListEmergencyAccounts(ctx)
	if err != nil {
		return nil, err
	}
	strengths := map[string]access.Strength{}
	for _, st := range c.AllStrengths() {
		strengths[st.ID] = st
	}
	out := access.Lint(c.Policies, strengths, accounts(es))
	if out == nil {
		out = []access.Finding{}
	}
	return out, nil
}

// AffectedBy names the emergency-access accounts a policy not saved yet
// (Graph's document, as the editor holds it) would take in — what saving it
// without force would be refused for — so the admin center can say so
// before anything is saved. Nothing is stored.
func (s *Service) AffectedBy(ctx context.Context, doc []byte) ([]string, error) {
	var p access.Policy
	if err := decodeDoc(doc, &p); err != nil {
		return nil, err
	}
	es, err := s.Store.ListEmergencyAccounts(ctx)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := access.Affected(p, accounts(es))
	if out == nil {
		out = []string{}
	}
	return out, nil
}

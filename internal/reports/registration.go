package reports

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/odatafilter"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Methods as Graph's userRegistrationDetails names them.
const (
	MethodPasskeyDeviceBound = storage.RegisteredPasskeyDeviceBound
	MethodPasskeySynced      = storage.RegisteredPasskeySynced
	MethodPassword           = storage.RegisteredPassword
	MethodSoftwareOath       = storage.RegisteredSoftwareOath
	MethodTAP                = storage.RegisteredTAP
)

// Methods lists every method the reports count, in their order.
var Methods = []string{MethodPasskeyDeviceBound, MethodPasskeySynced, MethodPassword, MethodSoftwareOath, MethodTAP}

// UserRegistrationDetails is Graph's userRegistrationDetails.
type UserRegistrationDetails struct {
	ID                    string   `json:"id"`
	UserPrincipalName     string   `json:"userPrincipalName"`
	UserDisplayName       string   `json:"userDisplayName"`
	IsAdmin               bool     `json:"isAdmin"`
	IsMfaCapable          bool     `json:"isMfaCapable"`
	IsMfaRegistered       bool     `json:"isMfaRegistered"`
	IsPasswordlessCapable bool     `json:"isPasswordlessCapable"`
	MethodsRegistered     []string `json:"methodsRegistered"`
	LastUpdatedDateTime   string   `json:"lastUpdatedDateTime"`
}

// NewRegistrationDetails describes a user's registration. Passwordless
// capable means holding a passkey the policy lets the user sign in with
// now, on an enabled account; multi-factor registered means a passkey or an
// authenticator app; capable means passwordless capable, or a password with
// an app.
func NewRegistrationDetails(r storage.UserRegistration, pol policy.Fido2) UserRegistrationDetails {
	d := UserRegistrationDetails{ID: r.User.ID, UserPrincipalName: r.User.UserPrincipalName,
		UserDisplayName: r.User.DisplayName, IsAdmin: r.User.AdminRole != "", MethodsRegistered: []string{}}
	has := map[string]bool{}
	last := r.User.UpdatedAt
	for _, c := range r.Credentials {
		if c.BackupEligible {
			has[MethodPasskeySynced] = true
		} else {
			has[MethodPasskeyDeviceBound] = true
		}
		k := policy.Key{AAGUID: c.AAGUID, Model: c.Model, BackupEligible: c.BackupEligible}
		if r.User.AccountEnabled && !c.CloneWarning && pol.CheckSignIn(r.GroupIDs, k).Allowed {
			d.IsPasswordlessCapable = true
		}
		last = later(last, &c.CreatedAt)
	}
	has[MethodPassword] = r.User.PasswordHash != ""
	has[MethodSoftwareOath], has[MethodTAP] = r.TOTPAt != nil, r.TAPAt != nil
	last = later(later(last, r.TOTPAt), r.TAPAt)
	for _, m := range Methods {
		if has[m] {
			d.MethodsRegistered = append(d.MethodsRegistered, m)
		}
	}
	d.IsMfaRegistered = has[MethodPasskeyDeviceBound] || has[MethodPasskeySynced] || has[MethodSoftwareOath]
	d.IsMfaCapable = d.IsPasswordlessCapable || has[MethodPassword] && has[MethodSoftwareOath] && r.User.AccountEnabled
	d.LastUpdatedDateTime = last.UTC().Format(time.RFC3339)
	return d
}

func later(a time.Time, b *time.Time) time.Time {
	if b != nil && b.After(a) {
		return *b
	}
	return a
}

// RegistrationFilter is the $filter subset of the registration details.
type RegistrationFilter struct {
	PasswordlessCapable *bool
	Method              string // methodsRegistered/any(m: m eq '…')
}

// Keep tells whether d passes the filter (what the storage's query keeps).
func (f RegistrationFilter) Keep(d UserRegistrationDetails) bool {
	if f.PasswordlessCapable != nil && d.IsPasswordlessCapable != *f.PasswordlessCapable {
		return false
	}
	return f.Method == "" || slices.Contains(d.MethodsRegistered, f.Method)
}

// ParseRegistrationFilter reads isPasswordlessCapable eq true|false and
// methodsRegistered/any(m: m eq '…'), joined by and.
func ParseRegistrationFilter(filter string) (RegistrationFilter, error) {
	var f RegistrationFilter
	clauses, err := odatafilter.Parse(filter)
	if err != nil {
		return f, err
	}
	bad := func(format string, args ...any) error {
		return &odatafilter.Error{Message: strings.TrimSpace(sprintf(format, args...))}
	}
	for _, c := range clauses {
		switch {
		case !c.Any && strings.EqualFold(c.Path, "isPasswordlessCapable") && f.PasswordlessCapable == nil:
			v, err := c.Value.Bool()
			if err != nil || c.Op != "eq" {
				return f, bad("isPasswordlessCapable supports only eq true and eq false, not %s", c)
			}
			f.PasswordlessCapable = &v
		case c.Any && strings.EqualFold(c.Path, "methodsRegistered") && c.Inner == "" && f.Method == "":
			v, err := c.Value.Str()
			if err != nil || c.Op != "eq" {
				return f, bad("methodsRegistered/any(m: m eq '…') takes one quoted method, not %s", c)
			}
			for _, m := range Methods {
				if strings.EqualFold(m, v) {
					f.Method = m
				}
			}
			if f.Method == "" {
				return f, bad("%s is not a method; use one of %s", c.Value, strings.Join(Methods, ", "))
			}
		default:
			return f, bad("filtering registration details on %s is not supported (or it is given twice); supported: "+
				"isPasswordlessCapable eq true|false, methodsRegistered/any(m: m eq '…')", c.Field())
		}
	}
	return f, nil
}

// RegistrationDetails returns one page of users' registration details that
// pass filter. The filter is part of the storage's query (the policy's
// sign-in rule for isPasswordlessCapable), so every page but the last is full.
func (s *Service) RegistrationDetails(ctx context.Context, policies Fido2Source, filter string, limit int, after string) ([]UserRegistrationDetails, string, error) {
	f, err := ParseRegistrationFilter(filter)
	if err != nil {
		return nil, "", apperr.BadRequest("$filter: %s", err.Error())
	}
	pol, err := policies.Fido2(ctx)
	if err != nil {
		return nil, "", err
	}
	sf := storage.RegistrationFilter{PasswordlessCapable: f.PasswordlessCapable, Method: f.Method}
	if f.PasswordlessCapable != nil {
		sf.Rule = PasswordlessRule(pol)
	}
	regs, next, err := s.Store.ListUserRegistrations(ctx, storage.Page{Limit: limit, After: after}, s.Now(), sf)
	if err != nil {
		return nil, "", pageError(err)
	}
	out := make([]UserRegistrationDetails, 0, len(regs))
	for _, r := range regs {
		out = append(out, NewRegistrationDetails(r, pol))
	}
	return out, next, nil
}

// MethodCount is one entry of usersRegisteredByMethod.
type MethodCount struct {
	AuthenticationMethod string `json:"authenticationMethod"`
	UserCount            int    `json:"userCount"`
}

// RegisteredByMethod is Graph's usersRegisteredByMethod, with the number of
// passwordless-capable users besides.
type RegisteredByMethod struct {
	TotalUserCount               int           `json:"totalUserCount"`
	UserRegistrationMethodCounts []MethodCount `json:"userRegistrationMethodCounts"`
	PasswordlessCapableUserCount int           `json:"passwordlessCapableUserCount"`
	// Groups is the passwordless rollout per group, by display name.
	Groups []GroupRollout `json:"groups"`
}

// GroupRollout is how far passwordless sign-in has reached in one group.
type GroupRollout struct {
	GroupID                      string `json:"groupId"`
	DisplayName                  string `json:"displayName"`
	UserCount                    int    `json:"userCount"`
	PasswordlessCapableUserCount int    `json:"passwordlessCapableUserCount"`
}

// UsersRegisteredByMethod counts users per registered method with the
// storage's counting queries (the policy's sign-in rule for the
// passwordless-capable counts), then lists every group with its counts.
func (s *Service) UsersRegisteredByMethod(ctx context.Context, policies Fido2Source) (RegisteredByMethod, error) {
	pol, err := policies.Fido2(ctx)
	if err != nil {
		return RegisteredByMethod{}, err
	}
	c, err := s.Store.CountRegistrations(ctx, s.Now(), PasswordlessRule(pol))
	if err != nil {
		return RegisteredByMethod{}, apperr.Internal(err)
	}
	out := RegisteredByMethod{TotalUserCount: c.Users, PasswordlessCapableUserCount: c.PasswordlessCapable,
		Groups: []GroupRollout{}}
	for _, m := range Methods {
		out.UserRegistrationMethodCounts = append(out.UserRegistrationMethodCounts, MethodCount{m, c.Methods[m]})
	}
	for after := ""; ; {
		page, next, err := s.Store.ListGroups(ctx, storage.Page{Limit: 1000, After: after})
		if err != nil {
			return RegisteredByMethod{}, apperr.Internal(err)
		}
		for _, g := range page {
			gc := c.Groups[g.ID]
			out.Groups = append(out.Groups, GroupRollout{GroupID: g.ID, DisplayName: g.DisplayName,
				UserCount: gc.Users, PasswordlessCapableUserCount: gc.PasswordlessCapable})
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

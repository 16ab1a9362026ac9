package reports

import (
	"context"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/odatafilter"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Methods as Graph's userRegistrationDetails names them.
const (
	MethodPasskeyDeviceBound = "passKeyDeviceBound"
	MethodPasskeySynced      = "passKeySynced"
	MethodPassword           = "password"
	MethodSoftwareOath       = "softwareOath"
	MethodTAP                = "temporaryAccessPass"
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

// Keep tells whether d passes the filter.
func (f RegistrationFilter) Keep(d UserRegistrationDetails) bool {
	if f.PasswordlessCapable != nil && d.IsPasswordlessCapable != *f.PasswordlessCapable {
		return false
	}
	if f.Method != "" {
		for _, m := range d.MethodsRegistered {
			if m == f.Method {
				return true
			}
		}
		return false
	}
	return true
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
// pass filter. Filtering happens after the page is read, so a page may hold
// fewer than limit entries and still have a next one.
func (s *Service) RegistrationDetails(ctx context.Context, policies Fido2Source, filter string, limit int, after string) ([]UserRegistrationDetails, string, error) {
	f, err := ParseRegistrationFilter(filter)
	if err != nil {
		return nil, "", apperr.BadRequest("$filter: %s", err.Error())
	}
	pol, err := policies.Fido2(ctx)
	if err != nil {
		return nil, "", err
	}
	regs, next, err := s.Store.ListUserRegistrations(ctx, storage.Page{Limit: limit, After: after}, s.Now())
	if err != nil {
		return nil, "", pageError(err)
	}
	out := []UserRegistrationDetails{}
	for _, r := range regs {
		if d := NewRegistrationDetails(r, pol); f.Keep(d) {
			out = append(out, d)
		}
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

// UsersRegisteredByMethod counts users per registered method, reading the
// directory a thousand users at a time.
func (s *Service) UsersRegisteredByMethod(ctx context.Context, policies Fido2Source) (RegisteredByMethod, error) {
	pol, err := policies.Fido2(ctx)
	if err != nil {
		return RegisteredByMethod{}, err
	}
	counts := map[string]int{}
	groups := map[string]*GroupRollout{}
	var out RegisteredByMethod
	now, after := s.Now(), ""
	for {
		regs, next, err := s.Store.ListUserRegistrations(ctx, storage.Page{Limit: 1000, After: after}, now)
		if err != nil {
			return RegisteredByMethod{}, apperr.Internal(err)
		}
		for _, r := range regs {
			d := NewRegistrationDetails(r, pol)
			out.TotalUserCount++
			if d.IsPasswordlessCapable {
				out.PasswordlessCapableUserCount++
			}
			for _, m := range d.MethodsRegistered {
				counts[m]++
			}
			for _, g := range r.GroupIDs {
				if groups[g] == nil {
					groups[g] = &GroupRollout{GroupID: g}
				}
				groups[g].UserCount++
				if d.IsPasswordlessCapable {
					groups[g].PasswordlessCapableUserCount++
				}
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	for _, m := range Methods {
		out.UserRegistrationMethodCounts = append(out.UserRegistrationMethodCounts, MethodCount{m, counts[m]})
	}
	out.Groups = []GroupRollout{}
	for after := ""; ; {
		page, next, err := s.Store.ListGroups(ctx, storage.Page{Limit: 1000, After: after})
		if err != nil {
			return RegisteredByMethod{}, apperr.Internal(err)
		}
		for _, g := range page {
			r := GroupRollout{GroupID: g.ID}
			if c := groups[g.ID]; c != nil {
				r = *c
			}
			r.DisplayName = g.DisplayName
			out.Groups = append(out.Groups, r)
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

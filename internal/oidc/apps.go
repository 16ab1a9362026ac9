package oidc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
)

// Limits on what an app registration holds.
const (
	MaxDisplayName   = 256
	MaxRedirectURIs  = 32
	MaxRedirectURI   = 2048
	MaxPasswords     = 8
	MaxAssignedGroup = 64
	// DefaultSecretLifetime is a secret's life when endDateTime is not given.
	DefaultSecretLifetime = 2 * 365 * 24 * time.Hour
)

// AppInput is a create or update of an application; nil fields are unchanged.
type AppInput struct {
	DisplayName              *string
	WebRedirectURIs          *[]string
	PublicClientRedirectURIs *[]string
	AssignedGroups           *[]string
	GroupsClaim              *bool
	SigningAlg               *string
	AccessTokenType          *string
}

// Apps manages app registrations: validation, storage and the audit trail.
type Apps struct {
	Store storage.Storage
	Now   func() time.Time
}

func (s *Apps) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func appNotFound(id string) *apperr.Error {
	return apperr.NotFound("application %q does not exist", id)
}

// Create registers an application: a web (confidential) or public client.
func (s *Apps) Create(ctx context.Context, actor string, in AppInput) (storage.Application, error) {
	if in.DisplayName == nil {
		return storage.Application{}, apperr.BadRequest("displayName is required")
	}
	now := s.now()
	a := storage.Application{ID: uuid.NewString(), AppID: uuid.NewString(), SigningAlg: AlgES256,
		AccessTokenType: AccessTokenOpaque, CreatedAt: now, UpdatedAt: now}
	a, err := apply(ctx, s.Store, a, in)
	if err != nil {
		return a, err
	}
	return a, s.audited(ctx, actor, "application.create", a.ID, in, func(ctx context.Context) error {
		if err := s.Store.CreateApplication(ctx, a); err != nil {
			return apperr.Internal(fmt.Errorf("create application: %w", err))
		}
		return nil
	})
}

// Get finds an application by its object ID.
func (s *Apps) Get(ctx context.Context, id string) (storage.Application, error) {
	if _, err := uuid.Parse(id); err != nil {
		return storage.Application{}, appNotFound(id)
	}
	a, err := s.Store.GetApplication(ctx, strings.ToLower(id))
	if errors.Is(err, storage.ErrNotFound) {
		return a, appNotFound(id).Wrap(err)
	}
	if err != nil {
		return a, apperr.Internal(err)
	}
	return a, nil
}

// List returns a page of applications ordered by display name.
func (s *Apps) List(ctx context.Context, p storage.Page) ([]storage.Application, string, error) {
	apps, next, err := s.Store.ListApplications(ctx, p)
	if errors.Is(err, storage.ErrBadCursor) {
		return nil, "", apperr.BadRequest("the page cursor is not valid; use the nextLink the previous page returned").Wrap(err)
	}
	if err != nil {
		return nil, "", apperr.Internal(err)
	}
	return apps, next, nil
}

// Update changes the fields set in in.
func (s *Apps) Update(ctx context.Context, actor, id string, in AppInput) (storage.Application, error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return cur, err
	}
	var a storage.Application
	err = s.audited(ctx, actor, "application.update", cur.ID, in, func(ctx context.Context) (err error) {
		a, err = s.Store.UpdateApplication(ctx, cur.ID, func(old storage.Application) (storage.Application, error) {
			n, err := apply(ctx, s.Store, old, in)
			n.UpdatedAt = s.now()
			return n, err
		})
		return asAppErr(err, id)
	})
	return a, err
}

// Delete removes an application; every token issued to it stops working.
func (s *Apps) Delete(ctx context.Context, actor, id string) error {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	return s.audited(ctx, actor, "application.delete", cur.ID, nil, func(ctx context.Context) error {
		return asAppErr(s.Store.DeleteApplication(ctx, cur.ID), id)
	})
}

// AddPassword adds a client secret and returns it with the secret text,
// which is shown this once and stored only as a hash.
func (s *Apps) AddPassword(ctx context.Context, actor, id, displayName string, end *time.Time) (storage.PasswordCredential, string, error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return storage.PasswordCredential{}, "", err
	}
	if len(cur.WebRedirectURIs) == 0 {
		return storage.PasswordCredential{}, "", apperr.BadRequest("%s is a public client; only web applications have secrets", cur.DisplayName)
	}
	if utf8.RuneCountInString(displayName) > MaxDisplayName {
		return storage.PasswordCredential{}, "", apperr.BadRequest("displayName must be at most %d characters", MaxDisplayName)
	}
	now := s.now()
	endAt := now.Add(DefaultSecretLifetime)
	if end != nil {
		if !end.After(now) {
			return storage.PasswordCredential{}, "", apperr.BadRequest("endDateTime must be in the future")
		}
		endAt = *end
	}
	// URL-safe characters only: clients differ in how they encode Basic credentials.
	text := secret.New("kwcs_")
	pc := storage.PasswordCredential{KeyID: uuid.NewString(), DisplayName: displayName, Hint: text[:8],
		SecretHash: secret.Hash(text), StartAt: now, EndAt: endAt}
	err = s.audited(ctx, actor, "application.addPassword", cur.ID, map[string]string{"keyId": pc.KeyID}, func(ctx context.Context) error {
		_, err := s.Store.UpdateApplication(ctx, cur.ID, func(a storage.Application) (storage.Application, error) {
			if len(a.PasswordCredentials) >= MaxPasswords {
				return a, apperr.BadRequest("an application has at most %d secrets; remove one first", MaxPasswords)
			}
			a.PasswordCredentials = append(a.PasswordCredentials, pc)
			a.UpdatedAt = now
			return a, nil
		})
		return asAppErr(err, id)
	})
	if err != nil {
		return pc, "", err
	}
	return pc, text, nil
}

// RemovePassword removes the client secret with keyID.
func (s *Apps) RemovePassword(ctx context.Context, actor, id, keyID string) error {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	return s.audited(ctx, actor, "application.removePassword", cur.ID, map[string]string{"keyId": keyID}, func(ctx context.Context) error {
		_, err := s.Store.UpdateApplication(ctx, cur.ID, func(a storage.Application) (storage.Application, error) {
			n := slices.DeleteFunc(slices.Clone(a.PasswordCredentials), func(p storage.PasswordCredential) bool { return p.KeyID == keyID })
			if len(n) == len(a.PasswordCredentials) {
				return a, apperr.NotFound("application %s has no secret with keyId %q", a.DisplayName, keyID)
			}
			a.PasswordCredentials, a.UpdatedAt = n, s.now()
			return a, nil
		})
		return asAppErr(err, id)
	})
}

func asAppErr(err error, id string) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, storage.ErrNotFound):
		return appNotFound(id).Wrap(err)
	}
	return apperr.Internal(err)
}

// audited makes change to application appID and its audit record in one
// transaction (storage.Record).
func (s *Apps) audited(ctx context.Context, actor, action, appID string, details any, change func(ctx context.Context) error) error {
	if actor == "" {
		actor = "unknown"
	}
	e := storage.AuditEvent{ID: uuid.NewString(), Time: s.now(), Actor: actor, Action: action, Target: "application:" + appID}
	return storage.Record(ctx, s.Store, e, details, change)
}

// apply validates in and sets it on a.
func apply(ctx context.Context, st storage.Storage, a storage.Application, in AppInput) (storage.Application, error) {
	if in.DisplayName != nil {
		n := strings.TrimSpace(*in.DisplayName)
		if n == "" || utf8.RuneCountInString(n) > MaxDisplayName || strings.ContainsFunc(n, isControl) {
			return a, apperr.BadRequest("displayName must be 1 to %d printable characters", MaxDisplayName)
		}
		a.DisplayName = n
	}
	if in.WebRedirectURIs != nil {
		uris, err := redirectURIs("web.redirectUris", *in.WebRedirectURIs, false)
		if err != nil {
			return a, err
		}
		a.WebRedirectURIs = uris
	}
	if in.PublicClientRedirectURIs != nil {
		uris, err := redirectURIs("publicClient.redirectUris", *in.PublicClientRedirectURIs, true)
		if err != nil {
			return a, err
		}
		a.PublicClientRedirectURIs = uris
	}
	switch {
	case len(a.WebRedirectURIs) > 0 && len(a.PublicClientRedirectURIs) > 0:
		return a, apperr.BadRequest("an application is either a web app (web.redirectUris) or a public client (publicClient.redirectUris), not both")
	case len(a.WebRedirectURIs) == 0 && len(a.PublicClientRedirectURIs) == 0:
		return a, apperr.BadRequest(`give the redirect URIs: {"web":{"redirectUris":["https://…"]}} for a web app, or {"publicClient":{"redirectUris":["http://127.0.0.1/callback"]}} for a public client`)
	}
	if in.AssignedGroups != nil {
		groups := make([]string, 0, len(*in.AssignedGroups))
		if len(*in.AssignedGroups) > MaxAssignedGroup {
			return a, apperr.BadRequest("assignedGroups holds at most %d groups", MaxAssignedGroup)
		}
		for _, g := range *in.AssignedGroups {
			id, err := uuid.Parse(g)
			if err != nil {
				return a, apperr.BadRequest("assignedGroups: %q is not a group ID", g)
			}
			if _, err := st.GetGroup(ctx, id.String()); errors.Is(err, storage.ErrNotFound) {
				return a, apperr.BadRequest("assignedGroups: group %s does not exist", id)
			} else if err != nil {
				return a, apperr.Internal(err)
			}
			if !slices.Contains(groups, id.String()) {
				groups = append(groups, id.String())
			}
		}
		a.AssignedGroups = groups
	}
	if in.GroupsClaim != nil {
		a.GroupsClaim = *in.GroupsClaim
	}
	if in.SigningAlg != nil {
		if *in.SigningAlg != AlgES256 && *in.SigningAlg != AlgRS256 {
			return a, apperr.BadRequest("tokenSigningAlgorithm must be ES256 or RS256")
		}
		a.SigningAlg = *in.SigningAlg
	}
	if in.AccessTokenType != nil {
		if *in.AccessTokenType != AccessTokenOpaque && *in.AccessTokenType != AccessTokenJWT {
			return a, apperr.BadRequest("accessTokenType must be opaque or jwt")
		}
		a.AccessTokenType = *in.AccessTokenType
	}
	return a, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// redirectURIs checks each URI: absolute, no fragment, https (http only for
// localhost and loopback addresses); public clients may also use a private
// scheme (com.example.app:/cb) as native apps do.
func redirectURIs(field string, in []string, public bool) ([]string, error) {
	if len(in) > MaxRedirectURIs {
		return nil, apperr.BadRequest("%s holds at most %d URIs", field, MaxRedirectURIs)
	}
	out := make([]string, 0, len(in))
	for _, raw := range in {
		if len(raw) > MaxRedirectURI || strings.ContainsFunc(raw, isControl) {
			return nil, apperr.BadRequest("%s: a URI must be at most %d printable characters", field, MaxRedirectURI)
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() {
			return nil, apperr.BadRequest("%s: %q is not an absolute URI", field, raw)
		}
		if u.Fragment != "" || strings.Contains(raw, "#") {
			return nil, apperr.BadRequest("%s: %q must not have a fragment (#…)", field, raw)
		}
		if strings.Contains(raw, "*") {
			return nil, apperr.BadRequest("%s: %q: wildcards are not allowed; list each URI", field, raw)
		}
		switch u.Scheme {
		case "https":
			if u.Host == "" {
				return nil, apperr.BadRequest("%s: %q has no host", field, raw)
			}
		case "http":
			if !loopbackHost(u.Hostname()) {
				return nil, apperr.BadRequest("%s: %q: http:// is allowed only for localhost and 127.0.0.1; use https://", field, raw)
			}
		default:
			if !public || !strings.Contains(u.Scheme, ".") {
				return nil, apperr.BadRequest("%s: %q must use https:// (private schemes such as com.example.app: are for public clients)", field, raw)
			}
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	return out, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

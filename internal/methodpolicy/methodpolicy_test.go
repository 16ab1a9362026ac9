package methodpolicy_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func newService(t *testing.T, b storagetest.Backend) (*methodpolicy.Service, storage.Storage) {
	t.Helper()
	st := b.New(t).Open(t)
	return &methodpolicy.Service{Store: st, Now: func() time.Time { return now }}, st
}

// store writes data as the stored policy, as an operator editing the
// database by hand would.
func store(t *testing.T, st storage.Storage, data string) {
	t.Helper()
	_, err := st.UpdatePolicy(context.Background(), policy.StorageName, func(p storage.Policy) (storage.Policy, error) {
		p.Data, p.UpdatedAt, p.UpdatedBy = []byte(data), now, "test"
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestService(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("serves_the_defaults_while_none_is_stored", func(t *testing.T) {
				t.Parallel()
				svc, _ := newService(t, b)
				f, v, err := svc.Fido2Version(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if v != 0 || f.State != policy.StateDisabled || len(f.PasskeyProfiles) != 1 {
					t.Fatalf("got version %d state %q profiles %d, want the defaults at version 0", v, f.State, len(f.PasskeyProfiles))
				}
			})
			t.Run("refuses_a_stored_policy_that_does_not_validate", func(t *testing.T) {
				t.Parallel()
				svc, st := newService(t, b)
				ctx := context.Background()
				// A state the policy does not know, and a profile list with no
				// default: json.Unmarshal alone would take both.
				bad := `{"state":"sometimes","passkeyProfiles":[]}`
				store(t, st, bad)
				_, err := svc.Fido2(ctx)
				if ae := apperr.As(err); err == nil || ae.Status != http.StatusInternalServerError {
					t.Fatalf("Fido2 = %v, want a 500 for a stored policy that does not validate", err)
				}
				_, err = svc.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`))
				if err == nil {
					t.Fatal("an update on top of a stored policy that does not validate was saved")
				}
				stored, err := st.GetPolicy(ctx, policy.StorageName)
				if err != nil {
					t.Fatal(err)
				}
				if string(stored.Data) != bad || stored.Version != 1 {
					t.Fatalf("stored %s at version %d, want the bad data untouched at version 1", stored.Data, stored.Version)
				}
			})
			t.Run("serves_a_change_saved_by_another_node", func(t *testing.T) {
				t.Parallel()
				svc, st := newService(t, b)
				other := &methodpolicy.Service{Store: st, Now: func() time.Time { return now }}
				ctx := context.Background()
				if _, err := svc.Fido2(ctx); err != nil { // fills the cache
					t.Fatal(err)
				}
				if _, err := other.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
					t.Fatal(err)
				}
				f, v, err := svc.Fido2Version(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if f.State != policy.StateEnabled || v != 1 {
					t.Fatalf("got state %q at version %d, want enabled at version 1", f.State, v)
				}
			})
			t.Run("a_stale_version_changes_nothing", func(t *testing.T) {
				t.Parallel()
				svc, st := newService(t, b)
				ctx := context.Background()
				if _, err := svc.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
					t.Fatal(err)
				}
				_, _, err := svc.UpdateFido2IfVersion(ctx, authz.CLI(), func(v int64) bool { return v == 0 }, []byte(`{"state":"disabled"}`), false)
				var stale *methodpolicy.StaleError
				if !errors.As(err, &stale) || stale.Version != 1 || stale.Current.State != policy.StateEnabled {
					t.Fatalf("got %v, want a StaleError carrying the enabled policy at version 1", err)
				}
				stored, err := st.GetPolicy(ctx, policy.StorageName)
				if err != nil {
					t.Fatal(err)
				}
				if stored.Version != 1 || !strings.Contains(string(stored.Data), `"state":"enabled"`) {
					t.Fatalf("stored %s at version %d, want the enabled policy at version 1", stored.Data, stored.Version)
				}
			})
			t.Run("explains_an_exclusion_by_the_group_name", func(t *testing.T) {
				t.Parallel()
				svc, st := newService(t, b)
				ctx := context.Background()
				g := storage.Group{ID: "6f1c8f52-5a43-4a43-9d55-0b0c5f4f6b11", DisplayName: "Contractors", CreatedAt: now, UpdatedAt: now}
				if err := st.CreateGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
				u := storage.User{ID: "0b6f6d7e-8f5d-4a43-9d55-0b0c5f4f6b22", UserPrincipalName: "ann@example.com", DisplayName: "Ann", AccountEnabled: true, CreatedAt: now, UpdatedAt: now}
				if err := st.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
				if err := st.AddMember(ctx, g.ID, u.ID); err != nil {
					t.Fatal(err)
				}
				patch := `{"state":"enabled","excludeTargets":[{"targetType":"group","id":"` + g.ID + `"}]}`
				if _, err := svc.UpdateFido2(ctx, authz.CLI(), []byte(patch)); err != nil {
					t.Fatal(err)
				}
				pol, groups, err := svc.ForUser(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				d := svc.Explain(ctx, pol.CheckRegistrationStart(groups, false))
				ae := apperr.As(d.Err())
				if ae.Status != http.StatusForbidden || ae.Code != policy.CodeExcludedByGroup || !strings.Contains(ae.Message, `"Contractors"`) {
					t.Fatalf("got %d %s %q, want a 403 excludedByGroup naming \"Contractors\"", ae.Status, ae.Code, ae.Message)
				}
			})
		})
	}
}

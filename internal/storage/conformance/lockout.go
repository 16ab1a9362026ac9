package conformance

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

func lockoutEvent(action, target string) storage.AuditEvent {
	return storage.AuditEvent{ID: uuid.NewString(), Time: t0, Actor: "token:admin", Action: action, Target: target}
}

// errWouldLockOut is what either racer of lockoutTests returns when the
// other one won.
var errWouldLockOut = errors.New("would lock the account out")

const lockoutPolicy = "test.passkeys"

// passkeysOff turns passkeys off unless that leaves a privileged account
// with a passkey and no other way in, judged as the passkey policy's
// lockout guard judges it: inside the policy's writing transaction, after
// LockPrivilegedUsers.
func passkeysOff(ctx context.Context, s storage.Storage, name string) error {
	return s.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
		_, err := s.UpdatePolicy(ctx, name, func(p storage.Policy) (storage.Policy, error) {
			if err := s.LockPrivilegedUsers(ctx); err != nil {
				return p, err
			}
			owners, err := s.ListPrivilegedCredentialOwners(ctx)
			if err != nil {
				return p, err
			}
			for _, o := range owners {
				if o.User.AdminRole != storage.RoleGlobalAdmin && !o.User.IsEmergencyAccess || o.User.PasswordHash != "" {
					continue
				}
				taps, err := s.ListUserTAPs(ctx, o.User.ID)
				if err != nil {
					return p, err
				}
				if len(taps) == 0 {
					return p, errWouldLockOut
				}
			}
			p.Data, p.UpdatedAt, p.UpdatedBy = []byte("off"), t0, "token:admin"
			return p, nil
		})
		return []storage.AuditEvent{lockoutEvent("policy.update", name)}, err
	})
}

// deleteTAP deletes the pass unless that leaves its user no way in: a
// passkey counts only while the policy policyOf reads has passkeys on.
func deleteTAP(ctx context.Context, s storage.Storage, userID, tapID string, policyOf func(context.Context, storage.UserMethods) (storage.Policy, error)) error {
	return s.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
		err := s.DeleteUserTAP(ctx, userID, tapID, func(m storage.UserMethods) error {
			p, err := policyOf(ctx, m)
			if err != nil {
				return err
			}
			if m.User.PasswordHash == "" && (len(m.Credentials) == 0 || string(p.Data) == "off") && len(m.TAPs) <= 1 {
				return errWouldLockOut
			}
			return nil
		})
		return []storage.AuditEvent{lockoutEvent("tap.delete", userID)}, err
	})
}

// readLockoutPolicy reads the test's policy with the deletion's ctx, which
// joins its transaction.
func readLockoutPolicy(s storage.Storage) func(context.Context, storage.UserMethods) (storage.Policy, error) {
	return func(ctx context.Context, _ storage.UserMethods) (storage.Policy, error) {
		return s.GetPolicy(ctx, lockoutPolicy)
	}
}

// fido2OfMethods is the passkey policy the deletion's own read gave it
// (UserMethods.Fido2Policy), as the last-method check uses it.
func fido2OfMethods(_ context.Context, m storage.UserMethods) (storage.Policy, error) {
	return m.Fido2Policy, nil
}

// raceLockout races turning the policy name off against deleting a global
// administrator's pass, whose check reads the policy with policyOf: exactly
// one must win, and never both.
func raceLockout(t *testing.T, s storage.Storage, name string, policyOf func(context.Context, storage.UserMethods) (storage.Policy, error)) {
	// A global administrator signs in with a passkey or a pass. Turning
	// passkeys off alone leaves the pass; deleting the pass alone leaves
	// the passkey; both together would lock them out.
	for round := range 10 {
		_, err := s.UpdatePolicy(t.Context(), name, func(p storage.Policy) (storage.Policy, error) {
			p.Data = []byte("on")
			return p, nil
		})
		ok(t, err)
		u := newUser(string(rune('a'+round)) + "-admin@x.org")
		u.AdminRole = storage.RoleGlobalAdmin
		ok(t, s.CreateUser(t.Context(), u))
		mustCredential(t, s, u.ID)
		tap := newTAP(u.ID)
		ok(t, s.CreateTAP(t.Context(), tap))

		var wg sync.WaitGroup
		start := make(chan struct{})
		var policyErr, deleteErr error
		wg.Go(func() { <-start; policyErr = passkeysOff(t.Context(), s, name) })
		wg.Go(func() { <-start; deleteErr = deleteTAP(t.Context(), s, u.ID, tap.ID, policyOf) })
		close(start)
		wg.Wait()
		for _, err := range []error{policyErr, deleteErr} {
			if err != nil && !errors.Is(err, errWouldLockOut) {
				t.Fatalf("round %d: a racer got %v", round, err)
			}
		}
		if (policyErr == nil) == (deleteErr == nil) {
			t.Fatalf("round %d: policy change: %v, deletion: %v; want exactly one to win", round, policyErr, deleteErr)
		}
		p, err := s.GetPolicy(t.Context(), name)
		ok(t, err)
		taps, err := s.ListUserTAPs(t.Context(), u.ID)
		ok(t, err)
		if string(p.Data) == "off" && len(taps) == 0 {
			t.Fatalf("round %d: passkeys are off and the administrator's pass is gone", round)
		}
		// The next round starts from passkeys on; this admin keeps a way in.
		if len(taps) == 0 {
			ok(t, s.CreateTAP(t.Context(), newTAP(u.ID)))
		}
	}
}

var lockoutTests = []test{
	{"policy_change_racing_deletion_of_the_other_method_one_wins", func(t *testing.T, s storage.Storage) {
		raceLockout(t, s, lockoutPolicy, readLockoutPolicy(s))
	}},
	{"deletion_judges_by_the_passkey_policy_its_own_transaction_read", func(t *testing.T, s storage.Storage) {
		// The last-method check reads no policy itself: the one in
		// UserMethods must be the one in force when the deletion commits.
		raceLockout(t, s, "fido2", fido2OfMethods)
	}},
}

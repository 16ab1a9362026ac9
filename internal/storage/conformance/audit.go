package conformance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// appendAudit stores records through the one audit writer, with no change
// besides them (for the tests of listing and paging).
func appendAudit(t *testing.T, s storage.Storage, events ...storage.AuditEvent) error {
	t.Helper()
	return s.Audited(t.Context(), func(context.Context) ([]storage.AuditEvent, error) { return events, nil })
}

func auditCount(t *testing.T, s storage.Storage) int {
	t.Helper()
	got, err := s.ListAudit(t.Context(), storage.EventFilter{Limit: 1000})
	ok(t, err)
	return len(got)
}

// auditedTests: Audited commits a change with its audit records or neither.
var auditedTests = []test{
	{"change_and_record_commit_together", func(t *testing.T, s storage.Storage) {
		u := newUser("a@x.org")
		ok(t, s.Audited(t.Context(), func(ctx context.Context) ([]storage.AuditEvent, error) {
			if err := s.CreateUser(ctx, u); err != nil {
				return nil, err
			}
			// Reads inside the change see its writes.
			got, err := s.GetUser(ctx, u.ID)
			if err != nil {
				return nil, fmt.Errorf("read own write: %w", err)
			}
			return []storage.AuditEvent{{ID: "e1", Time: t0, Actor: "cli", Action: "user.create", Target: "user:" + got.ID}}, nil
		}))
		_, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		got, err := s.ListAudit(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "records", len(got), 1)
		equal(t, "record", got[0].Target, "user:"+u.ID)
	}},
	{"failing_audit_write_rolls_the_change_back", func(t *testing.T, s storage.Storage) {
		ok(t, appendAudit(t, s, storage.AuditEvent{Time: t0, Actor: "cli", Action: "x"}))
		for _, tc := range []struct {
			name string
			// fail makes the audit write fail after the change's writes.
			fail func(cancel context.CancelFunc) []storage.AuditEvent
		}{
			{"record_refused", func(context.CancelFunc) []storage.AuditEvent {
				return []storage.AuditEvent{{Time: t0, Actor: "cli", Action: "user.update"}, {Time: t0, Actor: "cli"}}
			}},
			{"database_gone", func(cancel context.CancelFunc) []storage.AuditEvent {
				cancel() // the statement that writes the record cannot run
				return []storage.AuditEvent{{Time: t0, Actor: "cli", Action: "user.update"}}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := mustUser(t, s, tc.name+"@x.org")
				g := newGroup(tc.name)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				err := s.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
					if _, err := s.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
						u.DisplayName = "changed"
						return u, nil
					}); err != nil {
						return nil, err
					}
					if err := s.CreateGroup(ctx, g); err != nil { // a plain insert, not a CAS
						return nil, err
					}
					if err := s.UseChallenge(ctx, *usedChallenge()); err != nil { // a group-committed write
						return nil, err
					}
					return tc.fail(cancel), nil
				})
				if err == nil {
					t.Fatal("Audited succeeded although its record could not be written")
				}
				got, err := s.GetUser(t.Context(), u.ID)
				ok(t, err)
				equal(t, "display name after the rollback", got.DisplayName, u.DisplayName)
				if _, err := s.GetGroup(t.Context(), g.ID); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("group after the rollback: %v, want ErrNotFound", err)
				}
				n, err := s.DeleteExpiredChallenges(t.Context(), at(24*time.Hour), 100)
				ok(t, err)
				equal(t, "challenges after the rollback", n, 0)
				equal(t, "audit records", auditCount(t, s), 1)
			})
		}
	}},
	{"failing_change_writes_no_record", func(t *testing.T, s storage.Storage) {
		u := newUser("a@x.org")
		boom := errors.New("boom")
		err := s.Audited(t.Context(), func(ctx context.Context) ([]storage.AuditEvent, error) {
			if err := s.CreateUser(ctx, u); err != nil {
				return nil, err
			}
			return []storage.AuditEvent{{Time: t0, Actor: "cli", Action: "user.create"}}, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Audited = %v, want the change's own error", err)
		}
		if _, err := s.GetUser(t.Context(), u.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("user after the rollback: %v, want ErrNotFound", err)
		}
		equal(t, "audit records", auditCount(t, s), 0)
	}},
	{"an_error_handled_inside_undoes_only_its_own_write", func(t *testing.T, s storage.Storage) {
		u := newUser("a@x.org")
		ok(t, s.Audited(t.Context(), func(ctx context.Context) ([]storage.AuditEvent, error) {
			if err := s.CreateUser(ctx, u); err != nil {
				return nil, err
			}
			dup := newUser("A@x.org")
			if err := s.CreateUser(ctx, dup); !errors.Is(err, storage.ErrAlreadyExists) {
				return nil, fmt.Errorf("second user with the same UPN: %v, want ErrAlreadyExists", err)
			}
			// A key whose WebAuthn ID is taken, refused after the first
			// went in, leaves the first (and its roll-up trigger's count).
			c := newCredential(u.ID)
			if err := s.CreateCredential(ctx, c); err != nil {
				return nil, err
			}
			again := newCredential(u.ID)
			again.CredentialID = c.CredentialID
			if err := s.CreateCredential(ctx, again); !errors.Is(err, storage.ErrAlreadyExists) {
				return nil, fmt.Errorf("second key with the same credential ID: %v, want ErrAlreadyExists", err)
			}
			// PostgreSQL refuses every statement after a failed one unless
			// the failure was undone to a savepoint; SQLite undoes a failed
			// statement alone.
			if _, err := s.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
				u.DisplayName = "after"
				return u, nil
			}); err != nil {
				return nil, err
			}
			return []storage.AuditEvent{{Time: t0, Actor: "cli", Action: "user.create"}}, nil
		}))
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "display name", got.DisplayName, "after")
		equal(t, "audit records", auditCount(t, s), 1)
		keys, err := s.ListUserCredentials(t.Context(), u.ID)
		ok(t, err)
		equal(t, "keys", len(keys), 1)
		reg, err := s.GetRegistrant(t.Context(), u.ID, true)
		ok(t, err)
		equal(t, "registrant's keys", len(reg.Keys), 1)
	}},
	{"a_nested_change_rolls_back_with_the_outer_one", func(t *testing.T, s storage.Storage) {
		g := newGroup("Keys")
		boom := errors.New("boom")
		err := s.Audited(t.Context(), func(ctx context.Context) ([]storage.AuditEvent, error) {
			err := s.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
				return []storage.AuditEvent{{Time: t0, Actor: "cli", Action: "group.create"}}, s.CreateGroup(ctx, g)
			})
			if err != nil {
				return nil, err
			}
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Audited = %v, want boom", err)
		}
		if _, err := s.GetGroup(t.Context(), g.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("group: %v, want ErrNotFound", err)
		}
		equal(t, "audit records", auditCount(t, s), 0)
	}},
	{"racing_changes_each_commit_with_their_record", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		const writers = 8
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.Audited(t.Context(), func(ctx context.Context) ([]storage.AuditEvent, error) {
					// Read, then write what the read saw plus one: the
					// read-then-write holds inside the change's transaction.
					cur, err := s.GetUser(ctx, u.ID)
					if err != nil {
						return nil, err
					}
					n, _ := strconv.Atoi(cur.DisplayName)
					_, err = s.UpdateUser(ctx, u.ID, func(v storage.User) (storage.User, error) {
						if v.DisplayName != cur.DisplayName {
							return v, fmt.Errorf("another change wrote %q between this change's read and its write", v.DisplayName)
						}
						v.DisplayName = strconv.Itoa(n + 1)
						return v, nil
					})
					return []storage.AuditEvent{{Time: t0, Actor: "cli", Action: "user.update", Target: strconv.Itoa(i)}}, err
				})
			}()
		}
		wg.Wait()
		close(errs)
		committed := 0
		for err := range errs {
			if err == nil {
				committed++
			}
		}
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		n, _ := strconv.Atoi(got.DisplayName)
		equal(t, "changes counted", n, committed)
		equal(t, "audit records", auditCount(t, s), committed)
		if committed == 0 {
			t.Fatal("no change committed")
		}
	}},
}

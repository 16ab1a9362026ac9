package conformance

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

var userTests = []test{
	{"create_then_get_by_id_and_by_upn_in_any_case", func(t *testing.T, s storage.Storage) {
		u := newUser("Alice.Smith@Example.com")
		u.IsEmergencyAccess, u.PasswordHash = true, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
		u.Mail = "alice@mail.example.com"
		ok(t, s.CreateUser(t.Context(), u))
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "by ID", got, u)
		got, err = s.GetUserByUPN(t.Context(), "alice.smith@EXAMPLE.COM")
		ok(t, err)
		equal(t, "by UPN", got, u)
	}},
	{"times_come_back_in_utc_at_microsecond_precision", func(t *testing.T, s storage.Storage) {
		u := newUser("tz@example.com")
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		u.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123456789, zone)
		ok(t, s.CreateUser(t.Context(), u))
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		want := u.CreatedAt.UTC().Truncate(time.Microsecond)
		if got.CreatedAt != want {
			t.Fatalf("CreatedAt = %v, want %v", got.CreatedAt, want)
		}
	}},
	{"unknown_user_is_not_found", func(t *testing.T, s storage.Storage) {
		_, err := s.GetUser(t.Context(), "00000000-0000-0000-0000-000000000000")
		is(t, err, storage.ErrNotFound)
		_, err = s.GetUserByUPN(t.Context(), "nobody@example.com")
		is(t, err, storage.ErrNotFound)
	}},
	{"upn_is_unique_case_insensitively", func(t *testing.T, s storage.Storage) {
		mustUser(t, s, "Bob@Example.com")
		is(t, s.CreateUser(t.Context(), newUser("bob@example.COM")), storage.ErrAlreadyExists)
		n, err := s.CountUsers(t.Context())
		ok(t, err)
		equal(t, "count", n, 1)
	}},
	{"duplicate_id_is_already_exists", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "one@example.com")
		dup := newUser("two@example.com")
		dup.ID = u.ID
		is(t, s.CreateUser(t.Context(), dup), storage.ErrAlreadyExists)
	}},
	{"empty_id_or_upn_is_refused_and_nothing_stored", func(t *testing.T, s storage.Storage) {
		noUPN, noID := newUser(""), newUser("x@example.com")
		noID.ID = ""
		for _, u := range []storage.User{noUPN, noID} {
			if err := s.CreateUser(t.Context(), u); err == nil {
				t.Fatalf("CreateUser(%+v) succeeded", u)
			}
		}
		n, err := s.CountUsers(t.Context())
		ok(t, err)
		equal(t, "count", n, 0)
	}},
	{"update_stores_fn_result_but_keeps_id_and_created_at", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "carol@example.com")
		got, err := s.UpdateUser(t.Context(), u.ID, func(old storage.User) (storage.User, error) {
			equal(t, "fn input", old, u)
			old.ID, old.CreatedAt = "other", at(time.Hour)
			old.UserPrincipalName, old.DisplayName = "Carol.New@example.com", "Carol New"
			old.AccountEnabled, old.UpdatedAt, old.Mail = false, at(time.Minute), "carol@mail.example.com"
			return old, nil
		})
		ok(t, err)
		want := u
		want.UserPrincipalName, want.DisplayName, want.AccountEnabled = "Carol.New@example.com", "Carol New", false
		want.Mail = "carol@mail.example.com"
		want.UpdatedAt = at(time.Minute)
		equal(t, "returned", got, want)
		stored, err := s.GetUserByUPN(t.Context(), "carol.new@example.com")
		ok(t, err)
		equal(t, "stored", stored, want)
		_, err = s.GetUserByUPN(t.Context(), "carol@example.com")
		is(t, err, storage.ErrNotFound)
	}},
	{"update_may_change_the_case_of_its_own_upn", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "dave@example.com")
		got, err := s.UpdateUser(t.Context(), u.ID, func(old storage.User) (storage.User, error) {
			old.UserPrincipalName = "Dave@Example.com"
			return old, nil
		})
		ok(t, err)
		equal(t, "upn", got.UserPrincipalName, "Dave@Example.com")
	}},
	{"update_to_a_taken_upn_is_already_exists_and_changes_nothing", func(t *testing.T, s storage.Storage) {
		mustUser(t, s, "erin@example.com")
		u := mustUser(t, s, "frank@example.com")
		_, err := s.UpdateUser(t.Context(), u.ID, func(old storage.User) (storage.User, error) {
			old.UserPrincipalName, old.DisplayName = "ERIN@example.com", "changed"
			return old, nil
		})
		is(t, err, storage.ErrAlreadyExists)
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "stored", got, u)
	}},
	{"update_fn_error_is_returned_and_writes_nothing", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "gina@example.com")
		_, err := s.UpdateUser(t.Context(), u.ID, func(old storage.User) (storage.User, error) {
			old.DisplayName = "changed"
			return old, errFn
		})
		is(t, err, errFn)
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "stored", got, u)
	}},
	{"update_unknown_user_is_not_found_without_calling_fn", func(t *testing.T, s storage.Storage) {
		_, err := s.UpdateUser(t.Context(), "missing", func(u storage.User) (storage.User, error) {
			t.Fatal("fn called for a missing user")
			return u, nil
		})
		is(t, err, storage.ErrNotFound)
	}},
	{"update_fn_panic_leaves_the_store_usable", testUpdatePanicReleasesTheStore},
	{"delete_cascades_to_everything_the_user_owns", testDeleteUserCascades},
	{"delete_unknown_user_is_not_found", func(t *testing.T, s storage.Storage) {
		is(t, s.DeleteUser(t.Context(), "missing"), storage.ErrNotFound)
	}},
	{"count_counts", func(t *testing.T, s storage.Storage) {
		for i := range 3 {
			mustUser(t, s, fmt.Sprintf("u%d@example.com", i))
		}
		n, err := s.CountUsers(t.Context())
		ok(t, err)
		equal(t, "count", n, 3)
	}},
}

func testDeleteUserCascades(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	u, other := mustUser(t, s, "leaver@example.com"), mustUser(t, s, "stayer@example.com")
	g := mustGroup(t, s, "Staff")
	ok(t, s.AddMember(ctx, g.ID, u.ID))
	ok(t, s.AddMember(ctx, g.ID, other.ID))
	cred, otherCred := mustCredential(t, s, u.ID), mustCredential(t, s, other.ID)
	sess, otherSess := newSession(u.ID), newSession(other.ID)
	ok(t, s.CreateSession(ctx, sess))
	ok(t, s.CreateSession(ctx, otherSess))
	tap := storage.OneTimeToken{Hash: randomBytes(32), Purpose: "tap", UserID: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	ok(t, s.CreateOneTimeToken(ctx, tap))
	ok(t, s.RecordSignIn(ctx, storage.SignInRecord{Event: storage.SignInEvent{
		Time: t0, UserID: u.ID, Method: "passkey", Result: storage.ResultSuccess}}))

	ok(t, s.DeleteUser(ctx, u.ID))

	_, err := s.GetUser(ctx, u.ID)
	is(t, err, storage.ErrNotFound)
	_, err = s.GetCredential(ctx, cred.ID)
	is(t, err, storage.ErrNotFound)
	_, err = s.GetSession(ctx, sess.ID)
	is(t, err, storage.ErrNotFound)
	_, err = s.GetOneTimeToken(ctx, "tap", tap.Hash)
	is(t, err, storage.ErrNotFound)
	ids, err := s.UserGroupIDs(ctx, u.ID)
	ok(t, err)
	equal(t, "groups of deleted user", len(ids), 0)
	members, _, err := s.ListMembers(ctx, g.ID, storage.Page{})
	ok(t, err)
	equal(t, "members left", members, []storage.User{other})

	// The other user's records and the sign-in log stay.
	_, err = s.GetCredential(ctx, otherCred.ID)
	ok(t, err)
	_, err = s.GetSession(ctx, otherSess.ID)
	ok(t, err)
	events, err := s.ListSignInEvents(ctx, storage.EventFilter{UserID: u.ID})
	ok(t, err)
	equal(t, "sign-in events kept", len(events), 1)
}

// upns returns the UPNs of users, in order.
func upns(users []storage.User) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = append(out, u.UserPrincipalName)
	}
	return out
}

// listAll follows Next from the first page and returns the pages' UPNs.
func listAll(t *testing.T, s storage.Storage, p storage.Page) [][]string {
	t.Helper()
	var pages [][]string
	for i := 0; ; i++ {
		users, next, err := s.ListUsers(t.Context(), p)
		ok(t, err)
		pages = append(pages, upns(users))
		if next == "" {
			return pages
		}
		if i > 100 {
			t.Fatal("paging does not end")
		}
		p.After = next
	}
}

var pagingTests = []test{
	{"lists_order_by_upn_case_insensitively", func(t *testing.T, s storage.Storage) {
		for _, upn := range []string{"Carol@x.org", "alice@x.org", "Bob@x.org", "dave@x.org"} {
			mustUser(t, s, upn)
		}
		equal(t, "pages", listAll(t, s, storage.Page{}),
			[][]string{{"alice@x.org", "Bob@x.org", "Carol@x.org", "dave@x.org"}})
	}},
	{"pages_cover_every_user_once_and_end_without_an_empty_page", func(t *testing.T, s storage.Storage) {
		for i := range 25 {
			mustUser(t, s, fmt.Sprintf("user%02d@x.org", i))
		}
		pages := listAll(t, s, storage.Page{Limit: 10})
		equal(t, "page sizes", []int{len(pages[0]), len(pages[1]), len(pages[2])}, []int{10, 10, 5})
		equal(t, "page count", len(pages), 3)
		var all []string
		for _, p := range pages {
			all = append(all, p...)
		}
		for i, upn := range all {
			equal(t, "upn", upn, fmt.Sprintf("user%02d@x.org", i))
		}
	}},
	{"a_full_last_page_has_no_next", func(t *testing.T, s storage.Storage) {
		for i := range 4 {
			mustUser(t, s, fmt.Sprintf("u%d@x.org", i))
		}
		equal(t, "pages", len(listAll(t, s, storage.Page{Limit: 2})), 2)
	}},
	{"empty_list_has_no_users_and_no_next", func(t *testing.T, s storage.Storage) {
		users, next, err := s.ListUsers(t.Context(), storage.Page{})
		ok(t, err)
		equal(t, "users", len(users), 0)
		equal(t, "next", next, "")
	}},
	{"limit_0_means_100_and_above_1000_means_1000", func(t *testing.T, s storage.Storage) {
		for i := range 1001 {
			mustUser(t, s, fmt.Sprintf("u%04d@x.org", i))
		}
		for _, c := range []struct{ limit, want int }{{0, 100}, {-5, 100}, {1000, 1000}, {5000, 1000}} {
			users, next, err := s.ListUsers(t.Context(), storage.Page{Limit: c.limit})
			ok(t, err)
			if len(users) != c.want || next == "" {
				t.Fatalf("limit %d: got %d users, next %q; want %d and a next page", c.limit, len(users), next, c.want)
			}
		}
	}},
	{"prefix_matches_case_insensitively_and_treats_wildcards_literally", func(t *testing.T, s storage.Storage) {
		for _, upn := range []string{"alice@x.org", "Alina@x.org", "bob@x.org", "al%x@x.org", "a_l@x.org", "abl@x.org", "AL@x.org"} {
			mustUser(t, s, upn)
		}
		cases := []struct {
			prefix string
			want   []string
		}{
			{"AL", []string{"al%x@x.org", "AL@x.org", "alice@x.org", "Alina@x.org"}},
			{"al%", []string{"al%x@x.org"}},
			{"a_", []string{"a_l@x.org"}},
			{"alice@x.org", []string{"alice@x.org"}},
			{"zed", []string{}},
		}
		for _, c := range cases {
			users, next, err := s.ListUsers(t.Context(), storage.Page{Prefix: c.prefix})
			ok(t, err)
			equal(t, "prefix "+c.prefix, upns(users), c.want)
			equal(t, "next", next, "")
		}
	}},
	{"prefix_and_paging_combine", func(t *testing.T, s storage.Storage) {
		for _, upn := range []string{"m1@x.org", "M2@x.org", "m3@x.org", "n1@x.org", "l1@x.org"} {
			mustUser(t, s, upn)
		}
		equal(t, "pages", listAll(t, s, storage.Page{Limit: 2, Prefix: "m"}),
			[][]string{{"m1@x.org", "M2@x.org"}, {"m3@x.org"}})
	}},
	{"cursor_is_stable_when_users_come_and_go", func(t *testing.T, s storage.Storage) {
		for _, upn := range []string{"b@x.org", "d@x.org", "f@x.org", "h@x.org"} {
			mustUser(t, s, upn)
		}
		first, next, err := s.ListUsers(t.Context(), storage.Page{Limit: 2})
		ok(t, err)
		equal(t, "first page", upns(first), []string{"b@x.org", "d@x.org"})
		// Changes before the cursor must not shift the next page; after it they show.
		mustUser(t, s, "a@x.org")
		ok(t, s.DeleteUser(t.Context(), first[1].ID))
		mustUser(t, s, "e@x.org")
		second, _, err := s.ListUsers(t.Context(), storage.Page{Limit: 2, After: next})
		ok(t, err)
		equal(t, "second page", upns(second), []string{"e@x.org", "f@x.org"})
	}},
	{"a_malformed_cursor_is_err_bad_cursor", func(t *testing.T, s storage.Storage) {
		mustUser(t, s, "a@x.org")
		for _, after := range []string{"!!!", "////", "_w"} {
			_, _, err := s.ListUsers(t.Context(), storage.Page{After: after})
			is(t, err, storage.ErrBadCursor)
			_, _, err = s.ListGroups(t.Context(), storage.Page{After: after})
			is(t, err, storage.ErrBadCursor)
		}
	}},
}

var groupTests = []test{
	{"create_get_update_delete", func(t *testing.T, s storage.Storage) {
		g := mustGroup(t, s, "Engineering")
		got, err := s.GetGroup(t.Context(), g.ID)
		ok(t, err)
		equal(t, "get", got, g)
		upd, err := s.UpdateGroup(t.Context(), g.ID, func(old storage.Group) (storage.Group, error) {
			equal(t, "fn input", old, g)
			old.ID, old.CreatedAt = "other", at(time.Hour)
			old.DisplayName, old.Description, old.UpdatedAt = "Eng", "builders", at(time.Minute)
			return old, nil
		})
		ok(t, err)
		want := g
		want.DisplayName, want.Description, want.UpdatedAt = "Eng", "builders", at(time.Minute)
		equal(t, "update", upd, want)
		got, err = s.GetGroup(t.Context(), g.ID)
		ok(t, err)
		equal(t, "stored", got, want)
		ok(t, s.DeleteGroup(t.Context(), g.ID))
		_, err = s.GetGroup(t.Context(), g.ID)
		is(t, err, storage.ErrNotFound)
	}},
	{"display_name_is_unique_case_insensitively", func(t *testing.T, s storage.Storage) {
		mustGroup(t, s, "Admins")
		is(t, s.CreateGroup(t.Context(), newGroup("ADMINS")), storage.ErrAlreadyExists)
		g := mustGroup(t, s, "Users")
		_, err := s.UpdateGroup(t.Context(), g.ID, func(old storage.Group) (storage.Group, error) {
			old.DisplayName = "admins"
			return old, nil
		})
		is(t, err, storage.ErrAlreadyExists)
		got, err := s.GetGroup(t.Context(), g.ID)
		ok(t, err)
		equal(t, "stored", got, g)
	}},
	{"update_fn_error_is_returned_and_writes_nothing", func(t *testing.T, s storage.Storage) {
		g := mustGroup(t, s, "Ops")
		_, err := s.UpdateGroup(t.Context(), g.ID, func(old storage.Group) (storage.Group, error) {
			old.Description = "changed"
			return old, errFn
		})
		is(t, err, errFn)
		got, err := s.GetGroup(t.Context(), g.ID)
		ok(t, err)
		equal(t, "stored", got, g)
	}},
	{"unknown_group_is_not_found", func(t *testing.T, s storage.Storage) {
		_, err := s.GetGroup(t.Context(), "missing")
		is(t, err, storage.ErrNotFound)
		_, err = s.UpdateGroup(t.Context(), "missing", func(g storage.Group) (storage.Group, error) { return g, nil })
		is(t, err, storage.ErrNotFound)
		is(t, s.DeleteGroup(t.Context(), "missing"), storage.ErrNotFound)
	}},
	{"list_orders_by_name_pages_and_filters_by_prefix", func(t *testing.T, s storage.Storage) {
		for _, n := range []string{"sales", "Security", "Engineering", "support", "HR"} {
			mustGroup(t, s, n)
		}
		names := func(p storage.Page) ([]string, string) {
			gs, next, err := s.ListGroups(t.Context(), p)
			ok(t, err)
			out := []string{}
			for _, g := range gs {
				out = append(out, g.DisplayName)
			}
			return out, next
		}
		all, _ := names(storage.Page{})
		equal(t, "all", all, []string{"Engineering", "HR", "sales", "Security", "support"})
		first, next := names(storage.Page{Prefix: "S", Limit: 2})
		equal(t, "first page", first, []string{"sales", "Security"})
		second, next := names(storage.Page{Prefix: "S", Limit: 2, After: next})
		equal(t, "second page", second, []string{"support"})
		equal(t, "next", next, "")
	}},
	{"delete_with_edits_the_policy_and_audits_in_one_transaction", func(t *testing.T, s storage.Storage) {
		g, keep := mustGroup(t, s, "Gone"), mustGroup(t, s, "Kept")
		var seen storage.Policy
		is(t, s.Audited(t.Context(), func(ctx context.Context) ([]storage.AuditEvent, error) {
			return []storage.AuditEvent{{Time: time.Now(), Actor: "t", Action: "group.delete", Target: "group:" + g.ID}},
				s.DeleteGroupWith(ctx, g.ID, "nothing-stored", func(p storage.Policy) (storage.GroupDeletion, error) {
					seen = p
					return storage.GroupDeletion{}, nil
				})
		}), nil)
		equal(t, "policy given when none is stored", seen, storage.Policy{Name: "nothing-stored"})
		_, err := s.GetGroup(t.Context(), g.ID)
		is(t, err, storage.ErrNotFound)

		stored, err := s.UpdatePolicy(t.Context(), "p", func(p storage.Policy) (storage.Policy, error) {
			p.Data, p.UpdatedBy, p.UpdatedAt = []byte(`{"v":1}`), "t", time.Now()
			return p, nil
		})
		ok(t, err)
		at := time.Now().UTC().Truncate(time.Millisecond)
		ok(t, s.Audited(t.Context(), func(ctx context.Context) ([]storage.AuditEvent, error) {
			var events []storage.AuditEvent
			err := s.DeleteGroupWith(ctx, keep.ID, "p", func(p storage.Policy) (storage.GroupDeletion, error) {
				equal(t, "policy given", string(p.Data), `{"v":1}`)
				p.Data, p.UpdatedBy, p.UpdatedAt = []byte(`{"v":2}`), "deleter", at
				events = []storage.AuditEvent{
					{Time: at, Actor: "deleter", Action: "group.delete", Target: "group:" + keep.ID},
					{Time: at, Actor: "deleter", Action: "policy.update", Target: "p"},
				}
				return storage.GroupDeletion{Policy: &p}, nil
			})
			return events, err
		}))
		got, err := s.GetPolicy(t.Context(), "p")
		ok(t, err)
		equal(t, "policy after", [3]any{string(got.Data), got.Version, got.UpdatedBy}, [3]any{`{"v":2}`, stored.Version + 1, "deleter"})
		audit, err := s.ListAudit(t.Context(), storage.EventFilter{Limit: 10})
		ok(t, err)
		var actions []string
		for _, e := range audit {
			actions = append(actions, e.Action)
		}
		// The deletions' records share a time, truncated, with no order among
		// them: what counts is that every one was stored with its change.
		slices.Sort(actions)
		equal(t, "audit", actions, []string{"group.delete", "group.delete", "policy.update"})
	}},
	{"delete_with_refused_by_edit_changes_nothing", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "m@x.org")
		g := mustGroup(t, s, "Excluded")
		ok(t, s.AddMember(t.Context(), g.ID, u.ID))
		_, err := s.UpdatePolicy(t.Context(), "p", func(p storage.Policy) (storage.Policy, error) {
			p.Data = []byte(`{"v":1}`)
			return p, nil
		})
		ok(t, err)
		is(t, s.DeleteGroupWith(t.Context(), g.ID, "p", func(p storage.Policy) (storage.GroupDeletion, error) {
			p.Data = []byte(`{"v":2}`)
			return storage.GroupDeletion{Policy: &p}, errFn
		}), errFn)
		_, err = s.GetGroup(t.Context(), g.ID)
		ok(t, err)
		ids, err := s.UserGroupIDs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "memberships", ids, []string{g.ID})
		got, err := s.GetPolicy(t.Context(), "p")
		ok(t, err)
		equal(t, "policy", [2]any{string(got.Data), got.Version}, [2]any{`{"v":1}`, int64(1)})
		audit, err := s.ListAudit(t.Context(), storage.EventFilter{Limit: 10})
		ok(t, err)
		equal(t, "audit events", len(audit), 0)
		is(t, s.DeleteGroupWith(t.Context(), "missing", "p", func(storage.Policy) (storage.GroupDeletion, error) {
			t.Error("edit called for a group that does not exist")
			return storage.GroupDeletion{}, nil
		}), storage.ErrNotFound)
	}},
	{"user_groups_lists_the_users_groups_by_name", func(t *testing.T, s storage.Storage) {
		u, other := mustUser(t, s, "g@x.org"), mustUser(t, s, "o@x.org")
		staff, admins, _ := mustGroup(t, s, "staff"), mustGroup(t, s, "Admins"), mustGroup(t, s, "Nobody's")
		ok(t, s.AddMember(t.Context(), staff.ID, u.ID))
		ok(t, s.AddMember(t.Context(), admins.ID, u.ID))
		ok(t, s.AddMember(t.Context(), staff.ID, other.ID))
		got, err := s.UserGroups(t.Context(), u.ID)
		ok(t, err)
		equal(t, "groups", got, []storage.Group{admins, staff})
		got, err = s.UserGroups(t.Context(), "no-such-user")
		ok(t, err)
		equal(t, "groups of nobody", len(got), 0)
	}},
	{"delete_removes_memberships", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "m@x.org")
		g, keep := mustGroup(t, s, "Temp"), mustGroup(t, s, "Keep")
		ok(t, s.AddMember(t.Context(), g.ID, u.ID))
		ok(t, s.AddMember(t.Context(), keep.ID, u.ID))
		ok(t, s.DeleteGroup(t.Context(), g.ID))
		ids, err := s.UserGroupIDs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "groups", ids, []string{keep.ID})
	}},
}

var memberTests = []test{
	{"add_list_and_remove", func(t *testing.T, s storage.Storage) {
		g, g2 := mustGroup(t, s, "A"), mustGroup(t, s, "B")
		zed, amy := mustUser(t, s, "Zed@x.org"), mustUser(t, s, "amy@x.org")
		ok(t, s.AddMember(t.Context(), g.ID, zed.ID))
		ok(t, s.AddMember(t.Context(), g.ID, amy.ID))
		ok(t, s.AddMember(t.Context(), g2.ID, amy.ID))
		members, next, err := s.ListMembers(t.Context(), g.ID, storage.Page{})
		ok(t, err)
		equal(t, "members", members, []storage.User{amy, zed})
		equal(t, "next", next, "")
		ids, err := s.UserGroupIDs(t.Context(), amy.ID)
		ok(t, err)
		want := []string{g.ID, g2.ID}
		if want[0] > want[1] {
			want[0], want[1] = want[1], want[0]
		}
		equal(t, "amy's groups", ids, want)
		ok(t, s.RemoveMember(t.Context(), g.ID, amy.ID))
		members, _, err = s.ListMembers(t.Context(), g.ID, storage.Page{})
		ok(t, err)
		equal(t, "members after remove", members, []storage.User{zed})
	}},
	{"adding_twice_is_already_exists", func(t *testing.T, s storage.Storage) {
		g, u := mustGroup(t, s, "A"), mustUser(t, s, "u@x.org")
		ok(t, s.AddMember(t.Context(), g.ID, u.ID))
		is(t, s.AddMember(t.Context(), g.ID, u.ID), storage.ErrAlreadyExists)
	}},
	{"adding_to_unknown_group_or_unknown_user_is_not_found", func(t *testing.T, s storage.Storage) {
		g, u := mustGroup(t, s, "A"), mustUser(t, s, "u@x.org")
		is(t, s.AddMember(t.Context(), "missing", u.ID), storage.ErrNotFound)
		is(t, s.AddMember(t.Context(), g.ID, "missing"), storage.ErrNotFound)
	}},
	{"removing_a_non_member_is_not_found", func(t *testing.T, s storage.Storage) {
		g, u := mustGroup(t, s, "A"), mustUser(t, s, "u@x.org")
		is(t, s.RemoveMember(t.Context(), g.ID, u.ID), storage.ErrNotFound)
	}},
	{"members_page_and_filter_by_prefix", func(t *testing.T, s storage.Storage) {
		g := mustGroup(t, s, "A")
		mustUser(t, s, "outsider@x.org")
		for _, upn := range []string{"p1@x.org", "P2@x.org", "p3@x.org", "q1@x.org"} {
			ok(t, s.AddMember(t.Context(), g.ID, mustUser(t, s, upn).ID))
		}
		first, next, err := s.ListMembers(t.Context(), g.ID, storage.Page{Limit: 2, Prefix: "p"})
		ok(t, err)
		equal(t, "first", upns(first), []string{"p1@x.org", "P2@x.org"})
		second, next, err := s.ListMembers(t.Context(), g.ID, storage.Page{Limit: 2, Prefix: "p", After: next})
		ok(t, err)
		equal(t, "second", upns(second), []string{"p3@x.org"})
		equal(t, "next", next, "")
	}},
	{"members_of_empty_group_is_empty_and_of_unknown_group_not_found", func(t *testing.T, s storage.Storage) {
		g := mustGroup(t, s, "Empty")
		members, _, err := s.ListMembers(t.Context(), g.ID, storage.Page{})
		ok(t, err)
		equal(t, "members", len(members), 0)
		_, _, err = s.ListMembers(t.Context(), "missing", storage.Page{})
		is(t, err, storage.ErrNotFound)
	}},
	{"user_without_groups_has_no_group_ids", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "lonely@x.org")
		ids, err := s.UserGroupIDs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "groups", len(ids), 0)
	}},
}

// A panicking CAS function must leave the store usable (the server recovers
// panics; a transaction left open would block every later write).
func testUpdatePanicReleasesTheStore(t *testing.T, s storage.Storage) {
	u := mustUser(t, s, "panic@x.org")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		_, _ = s.UpdateUser(t.Context(), u.ID, func(storage.User) (storage.User, error) { panic("boom") })
	}()
	mustUser(t, s, "after@x.org")
	got, err := s.GetUser(t.Context(), u.ID)
	ok(t, err)
	equal(t, "stored", got, u)
}

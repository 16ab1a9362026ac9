package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

var importTests = []test{
	{"imported_users_and_passkeys_read_back_as_created_ones", func(t *testing.T, s storage.Storage) {
		ctx := t.Context()
		// More than one multi-row INSERT's worth, so batches meet.
		var in []storage.UserImport
		for i := range 3203 {
			u := newUser(fmt.Sprintf("Bulk.%04d@Example.com", i))
			in = append(in, storage.UserImport{User: u, Credentials: []storage.Credential{newCredential(u.ID)}})
		}
		ok(t, s.ImportUsers(ctx, in))
		n, err := s.CountUsers(ctx)
		ok(t, err)
		equal(t, "count", n, len(in))
		for _, i := range []int{0, 1499, 1500, 3202} {
			got, err := s.GetUserByUPN(ctx, fmt.Sprintf("bulk.%04d@example.COM", i))
			ok(t, err)
			equal(t, "user", got, in[i].User)
			owner, err := s.GetCredentialOwner(ctx, in[i].Credentials[0].CredentialID)
			ok(t, err)
			equal(t, "credential", owner.Credential, in[i].Credentials[0])
			equal(t, "owner", owner.User, in[i].User)
		}
	}},
	{"imported_sign_ins_are_listed_and_rolled_up_as_recorded_ones", func(t *testing.T, s storage.Storage) {
		ctx := t.Context()
		u := mustUser(t, s, "ann@x.org")
		mustCredential(t, s, u.ID)
		day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		var in []storage.SignInEvent
		for i := range 3203 { // more than two multi-row INSERTs
			e := logEvent(u, day.Add(time.Duration(i)*time.Second), storage.ResultSuccess, aaguidA)
			if i%3 == 0 {
				e.ID = ""
			}
			in = append(in, e)
		}
		ok(t, s.ImportSignIns(ctx, in))
		got, next, err := s.ListSignIns(ctx, storage.SignInQuery{Limit: 1})
		ok(t, err)
		if next == "" || got[0].Time != in[3202].Time || got[0].ID != in[3202].ID {
			t.Fatalf("newest: %+v, want %+v", got, in[3202])
		}
		days, err := s.SignInsPerDay(ctx, day)
		ok(t, err)
		equal(t, "per day", days, []storage.DailyCount{ // 3203 seconds: one day
			{Day: day, Key: "passkey/deviceBound", Count: 3203}})
		models, err := s.PasskeyModels(ctx, storage.PasskeyModelQuery{Windows: []time.Time{day}})
		ok(t, err)
		equal(t, "model's sign-ins and people", [][]int{models[0].SignIns, models[0].SignInUsers}, [][]int{{3203}, {1}})
	}},
	{"a_taken_upn_or_credential_id_stores_nothing", func(t *testing.T, s storage.Storage) {
		ctx := t.Context()
		taken := mustUser(t, s, "taken@example.com")
		takenCred := mustCredential(t, s, taken.ID)
		a, b := newUser("a@example.com"), newUser("TAKEN@example.com")
		is(t, s.ImportUsers(ctx, []storage.UserImport{{User: a}, {User: b}}), storage.ErrAlreadyExists)
		c := newCredential(a.ID)
		c.CredentialID = takenCred.CredentialID
		is(t, s.ImportUsers(ctx, []storage.UserImport{{User: a, Credentials: []storage.Credential{c}}}), storage.ErrAlreadyExists)
		n, err := s.CountUsers(ctx)
		ok(t, err)
		equal(t, "count", n, 1)
	}},
	{"bad_records_are_refused_before_anything_is_written", func(t *testing.T, s storage.Storage) {
		ctx := t.Context()
		good, other := newUser("good@example.com"), newUser("other@example.com")
		noUPN := newUser("")
		wrongOwner := newCredential(other.ID)
		noCredID := newCredential(good.ID)
		noCredID.CredentialID = nil
		for name, in := range map[string][]storage.UserImport{
			"empty UPN":         {{User: good}, {User: noUPN}},
			"another's passkey": {{User: good, Credentials: []storage.Credential{wrongOwner}}, {User: other}},
			"empty WebAuthn ID": {{User: good, Credentials: []storage.Credential{noCredID}}},
		} {
			if err := s.ImportUsers(ctx, in); err == nil {
				t.Fatalf("%s: imported", name)
			}
		}
		n, err := s.CountUsers(ctx)
		ok(t, err)
		equal(t, "count", n, 0)
	}},
}

var nameListTests = []test{
	{"users_by_display_name_page_in_name_then_upn_order", func(t *testing.T, s storage.Storage) {
		ctx := t.Context()
		for upn, name := range map[string]string{"z@example.com": "Ada Lovelace", "a@example.com": "ada lovelace",
			"m@example.com": "Ada Byron", "e@example.com": "Émile Zola", "x@example.com": "Bob Ada"} {
			u := newUser(upn)
			u.DisplayName = name
			ok(t, s.CreateUser(ctx, u))
		}
		list := func(prefix string) []string {
			var got []string
			after := ""
			for range 10 {
				users, next, err := s.ListUsersByName(ctx, storage.Page{Limit: 2, Prefix: prefix, After: after})
				ok(t, err)
				got = append(got, upns(users)...)
				if next == "" {
					return got
				}
				after = next
			}
			t.Fatal("paging does not end")
			return nil
		}
		equal(t, "ADA ", list("ADA "), []string{"m@example.com", "a@example.com", "z@example.com"})
		equal(t, "émile", list("émile"), []string{"e@example.com"})
		equal(t, "all", list(""), []string{"m@example.com", "a@example.com", "z@example.com", "x@example.com", "e@example.com"})
		_, err := s.UpdateUser(ctx, mustGet(t, s, "x@example.com").ID, func(u storage.User) (storage.User, error) {
			u.DisplayName = "Ada Zed"
			return u, nil
		})
		ok(t, err)
		equal(t, "after a rename", list("ada "), []string{"m@example.com", "a@example.com", "z@example.com", "x@example.com"})
		in := newUser("bulk@example.com")
		in.DisplayName = "ADA ADAMS"
		ok(t, s.ImportUsers(ctx, []storage.UserImport{{User: in}}))
		equal(t, "after an import", list("ada a"), []string{"bulk@example.com"})
	}},
	{"a_name_cursor_that_is_not_one_is_bad_cursor", func(t *testing.T, s storage.Storage) {
		mustUser(t, s, "a@example.com")
		_, _, err := s.ListUsersByName(t.Context(), storage.Page{Limit: 1, After: "eA"}) // "x"
		is(t, err, storage.ErrBadCursor)
	}},
}

func mustGet(t *testing.T, s storage.Storage, upn string) storage.User {
	t.Helper()
	u, err := s.GetUserByUPN(t.Context(), upn)
	ok(t, err)
	return u
}

package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

const zeroAAGUID = "00000000-0000-0000-0000-000000000000"

var reportTests = []test{
	{"passkey_models_count_keys_holders_and_sign_ins_per_window", func(t *testing.T, s storage.Storage) {
		ann, bob, carol := mustUser(t, s, "ann@x.org"), mustUser(t, s, "bob@x.org"), mustUser(t, s, "carol@x.org")
		pilots := mustGroup(t, s, "Pilots")
		ok(t, s.AddMember(t.Context(), pilots.ID, ann.ID))
		key := func(u storage.User, aaguid string, synced, attested bool, lastUsed *time.Time) {
			c := newCredential(u.ID)
			c.AAGUID, c.Model, c.BackupEligible, c.LastUsedAt = aaguid, "Model "+aaguid[:4], synced, lastUsed
			c.AttestationLevel = storage.AttestationNotAttested
			if attested {
				c.AttestationLevel = storage.AttestationAttested
			}
			ok(t, s.CreateCredential(t.Context(), c))
		}
		now := at(200 * 24 * time.Hour)
		day := func(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }
		key(ann, aaguidA, false, true, ptr(day(1)))
		key(bob, aaguidA, true, false, ptr(day(40)))
		key(bob, aaguidB, false, true, nil)
		key(carol, zeroAAGUID, true, false, nil)
		for _, e := range []storage.SignInEvent{
			logEvent(ann, day(1), storage.ResultSuccess, aaguidA),
			logEvent(ann, day(2), storage.ResultFailure, aaguidA), // refusals are not uses
			logEvent(ann, day(10), storage.ResultSuccess, aaguidA),
			logEvent(ann, day(11), storage.ResultSuccess, aaguidA),
			logEvent(bob, day(40), storage.ResultSuccess, aaguidA),
			logEvent(bob, day(100), storage.ResultSuccess, aaguidB), // before every window
		} {
			mustLog(t, s, e)
		}
		windows := []time.Time{day(7), day(30), day(90)}
		got, err := s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{Windows: windows})
		ok(t, err)
		equal(t, "all users", got, []storage.PasskeyModelUsage{
			{AAGUID: zeroAAGUID, Model: "Model 0000", Passkeys: 1, Users: 1, Synced: 1, NotAttested: 1,
				SignIns: []int{0, 0, 0}, SignInUsers: []int{0, 0, 0}},
			{AAGUID: aaguidA, Model: "Model cb69", Passkeys: 2, Users: 2, DeviceBound: 1, Synced: 1, Attested: 1, NotAttested: 1,
				SignIns: []int{1, 3, 4}, SignInUsers: []int{1, 1, 2}, LastUsed: ptr(day(1))},
			// Last used: the latest successful sign-in with the model, before
			// every window too.
			{AAGUID: aaguidB, Model: "Model ee88", Passkeys: 1, Users: 1, DeviceBound: 1, Attested: 1,
				SignIns: []int{0, 0, 0}, SignInUsers: []int{0, 0, 0}, LastUsed: ptr(day(100))},
		})
		got, err = s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{GroupID: pilots.ID, Windows: windows})
		ok(t, err)
		equal(t, "the group's members", got, []storage.PasskeyModelUsage{
			{AAGUID: aaguidA, Model: "Model cb69", Passkeys: 1, Users: 1, DeviceBound: 1, Attested: 1,
				SignIns: []int{1, 3, 3}, SignInUsers: []int{1, 1, 1}, LastUsed: ptr(day(1))},
		})
		got, err = s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{GroupID: "no-such-group"})
		ok(t, err)
		equal(t, "an unknown group", len(got), 0)
	}},
	{"roll_ups_count_every_sign_in_of_racing_writers", func(t *testing.T, s storage.Storage) {
		// Every racer signs in with its own key of one model on one day,
		// through the whole record (challenge, counter, session, event):
		// the daily counts and the people must come out exact.
		const rounds = 3
		keys := make([]storage.Credential, racers)
		users := make([]storage.User, racers)
		for i := range racers {
			users[i] = mustUser(t, s, fmt.Sprintf("racer%d@x.org", i))
			keys[i] = mustCredential(t, s, users[i].ID)
		}
		now := at(time.Hour)
		var next atomic.Int32
		for r := range rounds {
			if wins := race(t, func() error {
				i := int(next.Add(1)-1) % racers
				k := keys[i]
				k.SignCount += uint32(r) // signIn adds one: above the last round's
				rec := signIn(users[i], k, now)
				rec.Used = usedChallenge()
				if r == rounds-1 && i%2 == 0 { // a refusal in the last round for half of them
					rec = storage.SignInRecord{Event: failure(users[i].ID, now)}
					rec.Event.AAGUID = keys[i].AAGUID
				}
				return s.RecordSignIn(t.Context(), rec)
			}); wins != racers {
				t.Fatalf("round %d: %d of %d sign-ins recorded", r, wins, racers)
			}
		}
		successes := rounds*racers - racers/2
		got, err := s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{Windows: []time.Time{now}})
		ok(t, err)
		if len(got) != 1 {
			t.Fatalf("report: %+v, want one model", got)
		}
		equal(t, "sign-ins and people", [][]int{got[0].SignIns, got[0].SignInUsers}, [][]int{{successes}, {racers}})
		days, err := s.SignInsPerDay(t.Context(), now)
		ok(t, err)
		equal(t, "sign-ins per day", days, []storage.DailyCount{{Day: storage.DayStart(now), Key: "passkey", Count: successes}})
	}},
	{"key_model_counters_match_a_count_from_scratch_after_racing_writers", func(t *testing.T, s storage.Storage) {
		// Racers register, delete and change passkeys of two models for four
		// people (each person's keys of one model raced by several) while
		// signing in with them on different days; a fifth person's keys go
		// with their account. The counters the report reads must then equal
		// a count from scratch: the same report for a group of everyone,
		// which reads the passkeys and the sign-in records themselves.
		var users []storage.User
		everyone := mustGroup(t, s, "Everyone")
		for i := range 5 {
			users = append(users, mustUser(t, s, fmt.Sprintf("holder%d@x.org", i)))
			ok(t, s.AddMember(t.Context(), everyone.ID, users[i].ID))
		}
		models := []string{aaguidA, aaguidB}
		today := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
		when := func(i, round int) time.Time {
			return today.AddDate(0, 0, -(i+round)%4).Add(time.Duration(i) * time.Minute)
		}
		keys := make([]storage.Credential, racers)
		var lastUse sync.Map // model → latest successful sign-in
		used := func(aaguid string, at time.Time) {
			for {
				old, loaded := lastUse.LoadOrStore(aaguid, at)
				if !loaded || !old.(time.Time).Before(at) || lastUse.CompareAndSwap(aaguid, old, at) {
					return
				}
			}
		}
		var next atomic.Int32
		if wins := race(t, func() error {
			i := int(next.Add(1) - 1)
			c := newCredential(users[i%4].ID)
			c.AAGUID, c.Model, c.BackupEligible = models[(i/4)%2], "Model "+models[(i/4)%2][:4], i%3 == 0
			if i%2 == 1 {
				c.AttestationLevel = storage.AttestationNotAttested
			}
			keys[i] = c
			if err := s.CreateCredential(t.Context(), c); err != nil {
				return err
			}
			used(c.AAGUID, when(i, 0))
			return s.RecordSignIn(t.Context(), storage.SignInRecord{Event: logEvent(users[i%4], when(i, 0), storage.ResultSuccess, c.AAGUID)})
		}); wins != racers {
			t.Fatalf("registrations: %d of %d", wins, racers)
		}
		for range 2 {
			ok(t, s.CreateCredential(t.Context(), newCredential(users[4].ID)))
		}
		next.Store(0)
		if wins := race(t, func() error {
			i := int(next.Add(1) - 1)
			k := keys[i]
			switch {
			case i == 1:
				return s.DeleteUser(t.Context(), users[4].ID)
			case i%4 == 0 || i == 5 || i == 10: // all of one person's keys, one of two, one of three
				if err := s.DeleteUserCredential(t.Context(), k.UserID, k.ID, func(storage.UserMethods) error { return nil }); err != nil {
					return err
				}
			case i%4 == 3:
				if _, err := s.UpdateCredential(t.Context(), k.ID, func(c storage.Credential) (storage.Credential, error) {
					c.AAGUID, c.Model, c.AttestationLevel = aaguidA, "Renamed model", storage.AttestationAttested
					return c, nil
				}); err != nil {
					return err
				}
				k.AAGUID = aaguidA
			}
			used(k.AAGUID, when(i, 1))
			return s.RecordSignIn(t.Context(), storage.SignInRecord{Event: logEvent(users[i%4], when(i, 1), storage.ResultSuccess, k.AAGUID)})
		}); wins != racers {
			t.Fatalf("deletions, changes and sign-ins: %d of %d", wins, racers)
		}
		windows := []time.Time{today, today.AddDate(0, 0, -1), today.AddDate(0, 0, -3)}
		counted, err := s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{Windows: windows})
		ok(t, err)
		scratch, err := s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{GroupID: everyone.ID, Windows: windows})
		ok(t, err)
		if len(counted) != 2 {
			t.Fatalf("report: %+v, want both models", counted)
		}
		for i := range scratch {
			scratch[i].LastUsed = nil
			if i < len(counted) {
				last, _ := lastUse.Load(counted[i].AAGUID)
				equal(t, "last used "+counted[i].AAGUID, counted[i].LastUsed, ptr(last.(time.Time)))
				counted[i].LastUsed = nil
			}
		}
		equal(t, "counters against a count from scratch", counted, scratch)
	}},
	{"roll_ups_are_kept_as_long_as_the_log", func(t *testing.T, s storage.Storage) {
		ann, bob := mustUser(t, s, "ann@x.org"), mustUser(t, s, "bob@x.org")
		today := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		day := func(n int) time.Time { return today.AddDate(0, 0, -n).Add(3 * time.Hour) }
		for _, e := range []storage.SignInEvent{
			logEvent(ann, day(0), storage.ResultSuccess, aaguidA),
			logEvent(ann, day(20), storage.ResultSuccess, aaguidA),
			logEvent(bob, day(20), storage.ResultSuccess, aaguidB),
			logEvent(bob, day(40), storage.ResultSuccess, aaguidA),
			logEvent(bob, day(50), storage.ResultSuccess, aaguidA),
		} {
			mustLog(t, s, e)
		}
		mustCredential(t, s, ann.ID) // the report lists models with a registered key
		c := newCredential(bob.ID)
		c.AAGUID = aaguidB
		ok(t, s.CreateCredential(t.Context(), c))
		counts := func() [][]int {
			got, err := s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{Windows: []time.Time{today.AddDate(0, 0, -89)}})
			ok(t, err)
			var out [][]int
			for _, m := range got {
				out = append(out, []int{m.SignIns[0], m.SignInUsers[0]})
			}
			return out
		}
		equal(t, "before the sweep", counts(), [][]int{{4, 2}, {1, 1}})
		cut := today.AddDate(0, 0, -30) // a 30-day retention
		for {
			n, err := s.DeleteSignInRollupsBefore(t.Context(), cut, 1)
			ok(t, err)
			if n < 1 {
				break
			}
		}
		equal(t, "after the sweep", counts(), [][]int{{2, 1}, {1, 1}})
		days, err := s.SignInsPerDay(t.Context(), today.AddDate(0, 0, -60))
		ok(t, err)
		equal(t, "days kept", days, []storage.DailyCount{
			{Day: today.AddDate(0, 0, -20), Key: "passkey/deviceBound", Count: 2},
			{Day: today, Key: "passkey/deviceBound", Count: 1},
		})
		_, err = s.DeleteSignInRollupsBefore(t.Context(), cut, 0)
		if err == nil {
			t.Fatal("a batch of 0 was accepted")
		}
	}},
	{"credential_owners_come_with_their_groups_ordered_by_upn", func(t *testing.T, s storage.Storage) {
		bob, ann := mustUser(t, s, "bob@x.org"), mustUser(t, s, "Ann@x.org")
		g1, g2 := mustGroup(t, s, "One"), mustGroup(t, s, "Two")
		ok(t, s.AddMember(t.Context(), g1.ID, ann.ID))
		ok(t, s.AddMember(t.Context(), g2.ID, ann.ID))
		c1, c2 := mustCredential(t, s, bob.ID), mustCredential(t, s, ann.ID)
		got, err := s.ListCredentialOwners(t.Context())
		ok(t, err)
		groups := []string{g1.ID, g2.ID}
		if groups[0] > groups[1] {
			groups[0], groups[1] = groups[1], groups[0]
		}
		equal(t, "owners", got, []storage.CredentialOwner{
			{Credential: c2, User: ann, GroupIDs: groups},
			{Credential: c1, User: bob},
		})
	}},
	{"key_facts_of_many_kinds_come_in_owner_then_key_order", func(t *testing.T, s storage.Storage) {
		// 24 people hold 1 to 3 keys each of 6 kinds (two AAGUIDs, a model
		// name each or none, a key identifier or none, backup eligible or
		// not), so one owner's keys are of several kinds.
		type kindOf struct {
			aaguid, model, keyID string
			backup               bool
		}
		kinds := []kindOf{
			{"cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series", "", false},
			{"cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series", "", true},
			{"cb69481e-8ff7-4039-93ec-0a2729a154a8", "", "", false},
			{"ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series", "", false},
			{"ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series", "0a1b", false},
			{"ee882879-721c-4913-9775-3dfcce97072a", "Key with a space", "0a1b", true},
		}
		var want []storage.KeyFacts
		wantKind := map[string]kindOf{}
		for i := range 24 {
			u := mustUser(t, s, fmt.Sprintf("owner%02d@x.org", i))
			for j := range 1 + i%3 {
				k := kinds[(i*5+j*7)%len(kinds)]
				c := newCredential(u.ID)
				c.AAGUID, c.Model, c.AttestationKeyID, c.BackupEligible = k.aaguid, k.model, k.keyID, k.backup
				ok(t, s.CreateCredential(t.Context(), c))
				want = append(want, storage.KeyFacts{CredentialID: c.ID, UserID: u.ID, AAGUID: k.aaguid, Model: k.model,
					AttestationKeyID: k.keyID, BackupEligible: k.backup})
				wantKind[c.ID] = k
			}
		}
		slices.SortFunc(want, func(a, b storage.KeyFacts) int {
			return strings.Compare(a.UserID+" "+a.CredentialID, b.UserID+" "+b.CredentialID)
		})
		got, numbers, err := listKeyFacts(t, s, nil)
		ok(t, err)
		equal(t, "facts", got, want)
		// Equal numbers for equal kinds, 0 to 5 for the six.
		number := map[kindOf]int{}
		seen := map[int]kindOf{}
		for i, f := range got {
			k := wantKind[f.CredentialID]
			if n, ok := number[k]; ok && n != numbers[i] {
				t.Fatalf("kind %+v numbered %d and %d", k, n, numbers[i])
			}
			if other, ok := seen[numbers[i]]; ok && other != k {
				t.Fatalf("number %d for kinds %+v and %+v", numbers[i], other, k)
			}
			number[k], seen[numbers[i]] = numbers[i], k
		}
		for n := range seen {
			if n < 0 || n >= len(kinds) {
				t.Fatalf("numbers %v for %d kinds", seen, len(kinds))
			}
		}
	}},
	{"key_facts_of_thousands_of_keys_all_come_once_in_order", func(t *testing.T, s storage.Storage) {
		// Many keys read as they stream in (SQLite) or sorted (PostgreSQL),
		// some people with two, a model whose name holds a space and a
		// newline, and the disabled accounts' keys left out.
		models := []string{"YubiKey 5 Series", "Key with\na newline and a space", ""}
		var users []storage.UserImport
		var want []storage.KeyFacts
		for i := range 1500 {
			u := newUser(fmt.Sprintf("many%04d@x.org", i))
			u.AccountEnabled = i%97 != 5
			imp := storage.UserImport{User: u}
			for j := range 1 + i%2 {
				c := newCredential(u.ID)
				c.Model, c.BackupEligible = models[(i+j)%len(models)], j == 1
				imp.Credentials = append(imp.Credentials, c)
				if u.AccountEnabled {
					want = append(want, storage.KeyFacts{CredentialID: c.ID, UserID: u.ID, AAGUID: c.AAGUID, Model: c.Model,
						AttestationKeyID: c.AttestationKeyID, BackupEligible: c.BackupEligible})
				}
			}
			users = append(users, imp)
		}
		ok(t, s.ImportUsers(t.Context(), users))
		slices.SortFunc(want, func(a, b storage.KeyFacts) int {
			return strings.Compare(a.UserID+" "+a.CredentialID, b.UserID+" "+b.CredentialID)
		})
		got, _, err := listKeyFacts(t, s, nil)
		ok(t, err)
		if len(got) != len(want) {
			t.Fatalf("%d keys read, %d sign in", len(got), len(want))
		}
		equal(t, "facts", got, want)
	}},
	{"key_facts_of_keys_that_sign_in_with_the_groups_asked_about", func(t *testing.T, s storage.Storage) {
		create := func(upn string, edit func(*storage.User)) storage.User {
			u := newUser(upn)
			edit(&u)
			ok(t, s.CreateUser(t.Context(), u))
			return u
		}
		ann := create("ann@x.org", func(u *storage.User) { u.AdminRole = storage.RoleGlobalAdmin })
		bob := create("bob@x.org", func(u *storage.User) {})
		eve := create("eve@x.org", func(u *storage.User) { u.IsEmergencyAccess = true })
		off := create("dan@x.org", func(u *storage.User) { u.AccountEnabled = false })
		asked, other := mustGroup(t, s, "Asked"), mustGroup(t, s, "Other")
		ok(t, s.AddMember(t.Context(), asked.ID, bob.ID))
		ok(t, s.AddMember(t.Context(), other.ID, bob.ID))
		a1 := mustCredential(t, s, ann.ID)
		a2 := newCredential(ann.ID)
		a2.AAGUID, a2.Model, a2.BackupEligible, a2.AttestationKeyID, a2.CreatedAt = "ee882879-721c-4913-9775-3dfcce97072a", "", true, "abcd", at(time.Hour)
		ok(t, s.CreateCredential(t.Context(), a2))
		b1, e1 := mustCredential(t, s, bob.ID), mustCredential(t, s, eve.ID)
		flagged := newCredential(bob.ID)
		flagged.CloneWarning, flagged.CreatedAt = true, at(time.Hour)
		ok(t, s.CreateCredential(t.Context(), flagged))
		mustCredential(t, s, off.ID)
		got, kinds, err := listKeyFacts(t, s, []string{asked.ID})
		ok(t, err)
		fact := func(c storage.Credential, privileged bool, groups ...string) storage.KeyFacts {
			return storage.KeyFacts{CredentialID: c.ID, UserID: c.UserID, AAGUID: c.AAGUID, Model: c.Model,
				AttestationKeyID: c.AttestationKeyID, BackupEligible: c.BackupEligible, Privileged: privileged, GroupIDs: groups}
		}
		// Disabled owners' keys and flagged keys sign in under no policy;
		// only the group asked about is read.
		// Ordered by owner, then by ID.
		want := []storage.KeyFacts{fact(a1, true), fact(a2, true), fact(b1, false, asked.ID), fact(e1, true)}
		slices.SortFunc(want, func(a, b storage.KeyFacts) int {
			return strings.Compare(a.UserID+" "+a.CredentialID, b.UserID+" "+b.CredentialID)
		})
		equal(t, "facts", got, want)
		// a1, b1 and e1 are of one kind (mustCredential's), a2 of another;
		// the numbers are 0 and 1.
		kindOf := map[string]int{}
		for i, f := range got {
			kindOf[f.CredentialID] = kinds[i]
		}
		if k := kindOf[a1.ID]; kindOf[b1.ID] != k || kindOf[e1.ID] != k || kindOf[a2.ID] == k || k+kindOf[a2.ID] != 1 {
			t.Fatalf("kinds %v of a1 %s, a2 %s, b1 %s, e1 %s", kindOf, a1.ID, a2.ID, b1.ID, e1.ID)
		}
		stop := errors.New("enough")
		calls := 0
		err = s.EachKeyFacts(t.Context(), nil, func(int, storage.KeyFacts) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("each's error ended the read after %d calls with %v", calls, err)
		}
		none, _, err := listKeyFacts(t, s, nil)
		ok(t, err)
		if len(none) != 4 || slices.ContainsFunc(none, func(f storage.KeyFacts) bool { return f.GroupIDs != nil }) {
			t.Fatalf("without groups: %+v", none)
		}

		priv, err := s.ListPrivilegedCredentialOwners(t.Context())
		ok(t, err)
		equal(t, "privileged owners", priv, []storage.CredentialOwner{
			{Credential: a1, User: ann}, {Credential: a2, User: ann}, {Credential: e1, User: eve}})

		byID, err := s.ListCredentialOwnersByID(t.Context(), []string{b1.ID, e1.ID, b1.ID, "nope"})
		ok(t, err)
		groups := []string{asked.ID, other.ID}
		slices.Sort(groups)
		equal(t, "owners by ID", byID, []storage.CredentialOwner{{Credential: b1, User: bob, GroupIDs: groups}, {Credential: e1, User: eve}})
	}},
}

var registrationTests = []test{
	{"user_registrations_page_with_keys_groups_app_and_usable_passes", func(t *testing.T, s storage.Storage) {
		ann, bob, carol := mustUser(t, s, "ann@x.org"), mustUser(t, s, "bob@x.org"), mustUser(t, s, "carol@x.org")
		g := mustGroup(t, s, "Pilots")
		ok(t, s.AddMember(t.Context(), g.ID, bob.ID))
		k1 := mustCredential(t, s, ann.ID)
		k2 := newCredential(ann.ID)
		k2.BackupEligible, k2.CreatedAt = true, at(time.Hour)
		ok(t, s.CreateCredential(t.Context(), k2))
		ok(t, s.CreateTOTP(t.Context(), storage.TOTPMethod{UserID: bob.ID, Secret: "JBSWY3DPEHPK3PXP", Confirmed: true, CreatedAt: at(time.Minute)}))
		ok(t, s.CreateTOTP(t.Context(), storage.TOTPMethod{UserID: carol.ID, Secret: "JBSWY3DPEHPK3PXP", CreatedAt: t0})) // unconfirmed
		pass := func(u storage.User, created time.Time, expires time.Duration, used bool) {
			p := storage.TemporaryAccessPass{ID: uuid.NewString(), UserID: u.ID, Hash: randomBytes(32), IsUsableOnce: true,
				CreatedAt: created, StartAt: created, ExpiresAt: at(expires), CreatedBy: "cli"}
			if used {
				p.UsedAt = ptr(created)
			}
			ok(t, s.CreateTAP(t.Context(), p))
		}
		pass(carol, t0, 2*time.Hour, false)
		pass(bob, t0, 2*time.Hour, true)  // spent
		pass(ann, t0, time.Minute, false) // expired at the query's time
		now := at(30 * time.Minute)

		page, next, err := s.ListUserRegistrations(t.Context(), storage.Page{Limit: 2}, now, storage.RegistrationFilter{})
		ok(t, err)
		if next == "" || len(page) != 2 {
			t.Fatalf("first page: %d registrations, next %q", len(page), next)
		}
		trim := func(c storage.Credential) storage.Credential {
			return storage.Credential{ID: c.ID, UserID: c.UserID, AAGUID: c.AAGUID, Model: c.Model,
				BackupEligible: c.BackupEligible, CloneWarning: c.CloneWarning, CreatedAt: c.CreatedAt}
		}
		rest, last, err := s.ListUserRegistrations(t.Context(), storage.Page{Limit: 2, After: next}, now, storage.RegistrationFilter{})
		ok(t, err)
		equal(t, "last page", last, "")
		equal(t, "registrations", append(page, rest...), []storage.UserRegistration{
			{User: ann, Credentials: []storage.Credential{trim(k1), trim(k2)}},
			{User: bob, GroupIDs: []string{g.ID}, TOTPAt: ptr(at(time.Minute))},
			{User: carol, TAPAt: ptr(t0)},
		})
	}},
}

// registrationCountTests race the writers that move usersRegisteredByMethod's
// counters.
var registrationCountTests = []test{
	{"registration_counters_match_a_count_from_scratch_after_racing_writers", func(t *testing.T, s storage.Storage) {
		// Racers register passkeys of both types for six people (several
		// racing for each person), then delete some, change the type of
		// others, flag one as a possible clone, set and clear passwords and
		// apps, while one account is deleted with its keys and another is
		// disabled. The counts must equal a count from scratch over every
		// user's registrations, and the passwordless-capable count from the
		// counters must equal the one that judges every user.
		var users []storage.User
		excluded := mustGroup(t, s, "Excluded")
		for i := range 7 {
			users = append(users, mustUser(t, s, fmt.Sprintf("method%d@x.org", i)))
		}
		ok(t, s.AddMember(t.Context(), excluded.ID, users[5].ID))
		for range 2 {
			ok(t, s.CreateCredential(t.Context(), newCredential(users[6].ID)))
		}
		keys := make([]storage.Credential, racers)
		var next atomic.Int32
		if wins := race(t, func() error {
			i := int(next.Add(1) - 1)
			c := newCredential(users[i%6].ID)
			c.BackupEligible = i%3 == 0
			keys[i] = c
			if err := s.CreateCredential(t.Context(), c); err != nil {
				return err
			}
			if i < 6 && i%2 == 0 {
				return s.CreateTOTP(t.Context(), storage.TOTPMethod{UserID: users[i].ID, Secret: "JBSWY3DPEHPK3PXP", CreatedAt: t0})
			}
			return nil
		}); wins != racers {
			t.Fatalf("registrations: %d of %d", wins, racers)
		}
		next.Store(0)
		if wins := race(t, func() error {
			i := int(next.Add(1) - 1)
			k := keys[i]
			switch {
			case i == 1:
				return s.DeleteUser(t.Context(), users[6].ID)
			case i == 3:
				_, err := s.UpdateUser(t.Context(), users[3].ID, func(u storage.User) (storage.User, error) {
					u.AccountEnabled = false
					return u, nil
				})
				return err
			case i < 6 && i%2 == 0:
				_, err := s.UpdateTOTP(t.Context(), users[i].ID, func(m storage.TOTPMethod) (storage.TOTPMethod, error) {
					m.Confirmed = i != 4
					return m, nil
				})
				return err
			case i == 5 || i == 7:
				_, err := s.UpdateUser(t.Context(), users[i%6].ID, func(u storage.User) (storage.User, error) {
					u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
					return u, nil
				})
				return err
			case i%4 == 0:
				return s.DeleteUserCredential(t.Context(), k.UserID, k.ID, func(storage.UserMethods) error { return nil })
			case i%4 == 2 || i == 9:
				_, err := s.UpdateCredential(t.Context(), k.ID, func(c storage.Credential) (storage.Credential, error) {
					c.BackupEligible, c.CloneWarning = !c.BackupEligible, i == 9
					return c, nil
				})
				return err
			}
			return nil
		}); wins != racers {
			t.Fatalf("changes: %d of %d", wins, racers)
		}
		now := at(time.Hour)
		want := storage.RegistrationCounts{Methods: map[string]int{storage.RegisteredPasskeyDeviceBound: 0,
			storage.RegisteredPasskeySynced: 0, storage.RegisteredPassword: 0, storage.RegisteredSoftwareOath: 0,
			storage.RegisteredTAP: 0}, Groups: map[string]storage.GroupRegistrationCount{excluded.ID: {Users: 1}}}
		after := ""
		for {
			regs, n, err := s.ListUserRegistrations(t.Context(), storage.Page{Limit: 3, After: after}, now, storage.RegistrationFilter{})
			ok(t, err)
			for _, r := range regs {
				want.Users++
				bound, synced, usable := false, false, false
				for _, c := range r.Credentials {
					bound, synced, usable = bound || !c.BackupEligible, synced || c.BackupEligible, usable || !c.CloneWarning
				}
				for m, has := range map[string]bool{storage.RegisteredPasskeyDeviceBound: bound,
					storage.RegisteredPasskeySynced: synced, storage.RegisteredPassword: r.User.PasswordHash != "",
					storage.RegisteredSoftwareOath: r.TOTPAt != nil} {
					if has {
						want.Methods[m]++
					}
				}
				if usable && r.User.AccountEnabled && r.User.ID != users[5].ID {
					want.PasswordlessCapable++
				}
			}
			if after = n; after == "" {
				break
			}
		}
		everyKey := storage.PasswordlessRule{ExcludeGroups: []string{excluded.ID},
			Targets: []storage.PasswordlessTarget{{Except: true}}}
		got, err := s.CountRegistrations(t.Context(), now, everyKey)
		ok(t, err)
		equal(t, "counters against a count from scratch", got, want)
		judged, err := s.CountRegistrations(t.Context(), now, storage.PasswordlessRule{ExcludeGroups: []string{excluded.ID},
			Targets: []storage.PasswordlessTarget{{AAGUIDs: []string{aaguidA}}}})
		ok(t, err)
		equal(t, "every person judged", judged.PasswordlessCapable, got.PasswordlessCapable)
	}},
}

// registrationWorld is six people for the registration filters and counts:
// a (key A, app), b (synced key B, in g), c (key A flagged as a possible
// clone, app, in g), d (key A, account disabled, password), e (key B, app,
// in g), f (nothing). Under rule — key A for everyone, any key for g's
// members — a, b and e are passwordless capable.
func registrationWorld(t *testing.T, s storage.Storage) (users []storage.User, g storage.Group, rule storage.PasswordlessRule) {
	t.Helper()
	g = mustGroup(t, s, "Pilots")
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		u := newUser(name + "@x.org")
		if name == "d" {
			u.AccountEnabled, u.PasswordHash = false, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
		}
		ok(t, s.CreateUser(t.Context(), u))
		users = append(users, u)
		key := func(aaguid string, synced, clone bool) {
			c := newCredential(u.ID)
			c.AAGUID, c.BackupEligible, c.CloneWarning = aaguid, synced, clone
			ok(t, s.CreateCredential(t.Context(), c))
		}
		switch name {
		case "a", "d":
			key(aaguidA, false, false)
		case "b":
			key(aaguidB, true, false)
		case "c":
			key(aaguidA, false, true)
		case "e":
			key(aaguidB, false, false)
		}
		if name == "a" || name == "c" || name == "e" {
			ok(t, s.CreateTOTP(t.Context(), storage.TOTPMethod{UserID: u.ID, Secret: "JBSWY3DPEHPK3PXP", Confirmed: true, CreatedAt: t0}))
		}
		if name == "b" || name == "c" || name == "e" {
			ok(t, s.AddMember(t.Context(), g.ID, u.ID))
		}
	}
	rule = storage.PasswordlessRule{Targets: []storage.PasswordlessTarget{
		{AAGUIDs: []string{aaguidA}}, {GroupID: g.ID, Except: true}}}
	return users, g, rule
}

// registrationPages pages through the registrations f keeps, n at a time,
// and returns each page's UPNs (first letters).
func registrationPages(t *testing.T, s storage.Storage, f storage.RegistrationFilter, n int) [][]string {
	t.Helper()
	var pages [][]string
	after := ""
	for range 10 {
		regs, next, err := s.ListUserRegistrations(t.Context(), storage.Page{Limit: n, After: after}, at(time.Hour), f)
		ok(t, err)
		var page []string
		for _, r := range regs {
			page = append(page, r.User.UserPrincipalName[:1])
		}
		pages = append(pages, page)
		if next == "" {
			return pages
		}
		after = next
	}
	t.Fatal("more than 10 pages")
	return nil
}

var registrationFilterTests = []test{
	{"registration_filters_are_in_the_query_so_every_page_but_the_last_is_full", func(t *testing.T, s storage.Storage) {
		_, _, rule := registrationWorld(t, s)
		yes, no := true, false
		for _, c := range []struct {
			name string
			f    storage.RegistrationFilter
			n    int
			want [][]string
		}{
			{"capable", storage.RegistrationFilter{PasswordlessCapable: &yes, Rule: rule}, 2, [][]string{{"a", "b"}, {"e"}}},
			{"not capable", storage.RegistrationFilter{PasswordlessCapable: &no, Rule: rule}, 2, [][]string{{"c", "d"}, {"f"}}},
			{"an app", storage.RegistrationFilter{Method: storage.RegisteredSoftwareOath}, 2, [][]string{{"a", "c"}, {"e"}}},
			{"capable with an app", storage.RegistrationFilter{PasswordlessCapable: &yes, Rule: rule, Method: storage.RegisteredSoftwareOath},
				1, [][]string{{"a"}, {"e"}}},
			{"device-bound", storage.RegistrationFilter{Method: storage.RegisteredPasskeyDeviceBound}, 3, [][]string{{"a", "c", "d"}, {"e"}}},
			{"synced", storage.RegistrationFilter{Method: storage.RegisteredPasskeySynced}, 3, [][]string{{"b"}}},
			{"password", storage.RegistrationFilter{Method: storage.RegisteredPassword}, 3, [][]string{{"d"}}},
			{"a pass", storage.RegistrationFilter{Method: storage.RegisteredTAP}, 3, [][]string{nil}},
			{"capable under no rule", storage.RegistrationFilter{PasswordlessCapable: &yes}, 3, [][]string{nil}},
		} {
			equal(t, c.name, registrationPages(t, s, c.f, c.n), c.want)
		}
		_, _, err := s.ListUserRegistrations(t.Context(), storage.Page{}, t0, storage.RegistrationFilter{Method: "sms"})
		if err == nil {
			t.Error("an unknown method was accepted")
		}
	}},
	{"registration_counts_per_method_and_group", func(t *testing.T, s storage.Storage) {
		_, g, rule := registrationWorld(t, s)
		got, err := s.CountRegistrations(t.Context(), at(time.Hour), rule)
		ok(t, err)
		equal(t, "counts", got, storage.RegistrationCounts{Users: 6, PasswordlessCapable: 3,
			Methods: map[string]int{storage.RegisteredPasskeyDeviceBound: 4, storage.RegisteredPasskeySynced: 1,
				storage.RegisteredPassword: 1, storage.RegisteredSoftwareOath: 3, storage.RegisteredTAP: 0},
			Groups: map[string]storage.GroupRegistrationCount{g.ID: {Users: 3, PasswordlessCapable: 2}}})
		got, err = s.CountRegistrations(t.Context(), at(time.Hour), storage.PasswordlessRule{
			ExcludeGroups: []string{g.ID}, Targets: []storage.PasswordlessTarget{{Except: true}}})
		ok(t, err)
		equal(t, "everyone but g's members, any key", got.PasswordlessCapable, 1) // a (d is disabled)
	}},
}

// capableFromScratch counts the people rule makes passwordless capable by
// judging each person (the registration details' filter, a condition per
// user), a page at a time.
func capableFromScratch(t *testing.T, s storage.Storage, rule storage.PasswordlessRule) int {
	t.Helper()
	yes, n, after := true, 0, ""
	for {
		regs, next, err := s.ListUserRegistrations(t.Context(), storage.Page{Limit: 4, After: after}, at(time.Hour),
			storage.RegistrationFilter{PasswordlessCapable: &yes, Rule: rule})
		ok(t, err)
		n += len(regs)
		if after = next; after == "" {
			return n
		}
	}
}

var capableCountTests = []test{
	{"passwordless_capable_count_under_any_rule_matches_judging_each_person", func(t *testing.T, s storage.Storage) {
		_, g, _ := registrationWorld(t, s)
		x := mustGroup(t, s, "Excluded")
		const aaguidC = "fa2b99dc-9e39-4257-8f92-4a30d23c4118"
		// h holds A and B (counted once), i in g holds a clone of B and a
		// good C, j in x holds A, k holds only a clone of C.
		for _, p := range []struct {
			name  string
			keys  []string
			clone int // index of the key flagged as a possible clone, or -1
			group string
		}{
			{"h", []string{aaguidA, aaguidB}, -1, ""},
			{"i", []string{aaguidB, aaguidC}, 0, g.ID},
			{"j", []string{aaguidA}, -1, x.ID},
			{"k", []string{aaguidC}, 0, ""},
		} {
			u := mustUser(t, s, p.name+"@x.org")
			for i, a := range p.keys {
				c := newCredential(u.ID)
				c.AAGUID, c.CloneWarning = a, i == p.clone
				ok(t, s.CreateCredential(t.Context(), c))
			}
			if p.group != "" {
				ok(t, s.AddMember(t.Context(), p.group, u.ID))
			}
		}
		for name, rule := range map[string]storage.PasswordlessRule{
			"A for everyone, any key for g": {Targets: []storage.PasswordlessTarget{{AAGUIDs: []string{aaguidA}},
				{GroupID: g.ID, Except: true}}},
			"A or B for everyone":     {Targets: []storage.PasswordlessTarget{{AAGUIDs: []string{aaguidA, aaguidB}}}},
			"all but A for everyone":  {Targets: []storage.PasswordlessTarget{{AAGUIDs: []string{aaguidA}, Except: true}}},
			"B for g alone":           {Targets: []storage.PasswordlessTarget{{GroupID: g.ID, AAGUIDs: []string{aaguidB}}}},
			"all but B for g alone":   {Targets: []storage.PasswordlessTarget{{GroupID: g.ID, AAGUIDs: []string{aaguidB}, Except: true}}},
			"C for everyone but x":    {ExcludeGroups: []string{x.ID}, Targets: []storage.PasswordlessTarget{{AAGUIDs: []string{aaguidC}}}},
			"A for everyone but x, g": {ExcludeGroups: []string{x.ID, g.ID}, Targets: []storage.PasswordlessTarget{{AAGUIDs: []string{aaguidA}}}},
			"any key, x excluded":     {ExcludeGroups: []string{x.ID}, Targets: []storage.PasswordlessTarget{{Except: true}}},
			"nothing accepted":        {Targets: []storage.PasswordlessTarget{{}, {GroupID: g.ID}}},
			"no target":               {},
		} {
			got, err := s.CountRegistrations(t.Context(), at(time.Hour), rule)
			ok(t, err)
			equal(t, name, got.PasswordlessCapable, capableFromScratch(t, s, rule))
		}
		rule := storage.PasswordlessRule{Targets: []storage.PasswordlessTarget{{AAGUIDs: []string{aaguidA, aaguidB}}}}
		got, err := s.CountRegistrations(t.Context(), at(time.Hour), rule)
		ok(t, err)
		equal(t, "A or B: a, b, e, h and j (c's A and i's B are clones, d is disabled)", got.PasswordlessCapable, 5)
	}},
}

var dailyTests = []test{
	{"sign_ins_and_registrations_per_utc_day", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "ann@x.org")
		day0 := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
		pw := logEvent(u, at(time.Hour), storage.ResultSuccess, aaguidA)
		pw.Method, pw.PasskeyType = "password", ""
		for _, e := range []storage.SignInEvent{
			logEvent(u, t0, storage.ResultSuccess, aaguidA),
			logEvent(u, at(time.Hour), storage.ResultSuccess, aaguidA),
			logEvent(u, at(2*time.Hour), storage.ResultFailure, aaguidA),
			pw,
			logEvent(u, at(24*time.Hour), storage.ResultSuccess, aaguidA),
			logEvent(u, at(-48*time.Hour), storage.ResultSuccess, aaguidA), // before since
		} {
			mustLog(t, s, e)
		}
		got, err := s.SignInsPerDay(t.Context(), day0)
		ok(t, err)
		equal(t, "sign-ins", got, []storage.DailyCount{
			{Day: day0, Key: "passkey/deviceBound", Count: 2}, {Day: day0, Key: "password", Count: 1},
			{Day: day0.AddDate(0, 0, 1), Key: "passkey/deviceBound", Count: 1},
		})
		k := newCredential(u.ID)
		k.BackupEligible, k.CreatedAt = true, at(30*time.Hour)
		ok(t, s.CreateCredential(t.Context(), k))
		mustCredential(t, s, u.ID)
		gone := mustCredential(t, s, u.ID)
		old := newCredential(u.ID)
		old.CreatedAt = at(-48 * time.Hour) // before since
		ok(t, s.CreateCredential(t.Context(), old))
		ok(t, s.DeleteCredential(t.Context(), gone.ID)) // only passkeys that still exist count
		regs, err := s.PasskeysRegisteredPerDay(t.Context(), day0)
		ok(t, err)
		equal(t, "registrations", regs, []storage.DailyCount{
			{Day: day0, Key: "deviceBound", Count: 1}, {Day: day0.AddDate(0, 0, 1), Key: "synced", Count: 1},
		})
		bob := mustUser(t, s, "bob@x.org")
		mustCredential(t, s, bob.ID)
		ok(t, s.DeleteUser(t.Context(), bob.ID)) // the user's passkeys go with them
		regs, err = s.PasskeysRegisteredPerDay(t.Context(), day0)
		ok(t, err)
		equal(t, "registrations after a user's deletion", len(regs), 2)
		// A passkey whose type changes moves between its day's two counts.
		for _, synced := range []bool{true, false, true} {
			_, err := s.UpdateCredential(t.Context(), k.ID, func(c storage.Credential) (storage.Credential, error) {
				c.BackupEligible = synced
				return c, nil
			})
			ok(t, err)
		}
		_, err = s.UpdateCredential(t.Context(), old.ID, func(c storage.Credential) (storage.Credential, error) {
			c.BackupEligible = true
			return c, nil
		})
		ok(t, err)
		_, err = s.UpdateCredential(t.Context(), k.ID, func(c storage.Credential) (storage.Credential, error) {
			c.BackupEligible = false
			return c, nil
		})
		ok(t, err)
		regs, err = s.PasskeysRegisteredPerDay(t.Context(), day0)
		ok(t, err)
		equal(t, "registrations after a change of type", regs, []storage.DailyCount{
			{Day: day0, Key: "deviceBound", Count: 1}, {Day: day0.AddDate(0, 0, 1), Key: "deviceBound", Count: 1},
		})
		regs, err = s.PasskeysRegisteredPerDay(t.Context(), at(-48*time.Hour))
		ok(t, err)
		equal(t, "the older passkey, now synced", regs[0], storage.DailyCount{Day: day0.AddDate(0, 0, -2), Key: "synced", Count: 1})
	}},
}

// listKeyFacts collects what Storage.EachKeyFacts reads, with each key's
// kind number.
func listKeyFacts(t *testing.T, s storage.Storage, groupIDs []string) ([]storage.KeyFacts, []int, error) {
	var facts []storage.KeyFacts
	var kinds []int
	err := s.EachKeyFacts(t.Context(), groupIDs, func(kind int, f storage.KeyFacts) error {
		facts, kinds = append(facts, f), append(kinds, kind)
		return nil
	})
	return facts, kinds, err
}

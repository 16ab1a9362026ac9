package conformance

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

var alertTests = []test{
	{"emergency_sign_ins", testEmergencySignIns},
	{"enqueue_once", testEnqueueAlertsOnce},
	{"claim_and_finish", testClaimAndFinish},
	{"race_claims_are_exclusive", testClaimRace},
}

func testEmergencySignIns(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	alice := mustUser(t, s, "alice@example.com")
	admin := newUser("admin@example.com")
	admin.AdminRole = storage.RoleGlobalAdmin // privileged, not an emergency account
	ok(t, s.CreateUser(ctx, admin))
	record := func(u storage.User, at time.Time, result string) string {
		id := uuid.NewString()
		ok(t, s.RecordSignIn(ctx, storage.SignInRecord{Event: storage.SignInEvent{ID: id, Time: at, UserID: u.ID,
			UserPrincipalName: u.UserPrincipalName, Method: "password", Result: result, IP: "192.0.2.1", UserAgent: "curl"}}))
		return id
	}
	record(alice, at(time.Minute), storage.ResultSuccess)
	record(admin, at(time.Minute), storage.ResultSuccess)
	got, err := s.EmergencySignIns(ctx, at(-2*time.Hour), 10)
	ok(t, err)
	equal(t, "sign-ins with no emergency account", len(got), 0)

	bg := newUser("bg@example.com")
	bg.IsEmergencyAccess = true
	ok(t, s.CreateUser(ctx, bg))
	bg2 := newUser("bg2@example.com")
	bg2.IsEmergencyAccess, bg2.AdminRole = true, storage.RoleGlobalAdmin
	ok(t, s.CreateUser(ctx, bg2))
	old := record(bg, at(-time.Hour), storage.ResultSuccess)
	second := record(bg, at(2*time.Minute), storage.ResultFailure)
	other := record(bg2, at(90*time.Second), storage.ResultSuccess)
	first := record(bg, at(time.Minute), storage.ResultSuccess)
	same := record(bg2, at(time.Minute), storage.ResultSuccess) // the same instant as first, recorded after it
	record(admin, at(3*time.Minute), storage.ResultSuccess)
	got, err = s.EmergencySignIns(ctx, t0, 10)
	ok(t, err)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	equal(t, "emergency sign-ins since t0, oldest first, of every emergency account", ids,
		[]string{first, same, other, second})
	equal(t, "result", got[3].Result, storage.ResultFailure)
	equal(t, "upn", got[0].UserPrincipalName, "bg@example.com")
	equal(t, "other account's upn", got[2].UserPrincipalName, "bg2@example.com")
	got, err = s.EmergencySignIns(ctx, at(-2*time.Hour), 1)
	ok(t, err)
	equal(t, "limit", len(got), 1)
	equal(t, "oldest", got[0].ID, old)
	if _, err := s.EmergencySignIns(ctx, t0, 0); err == nil {
		t.Fatal("a limit of 0: no error")
	}
}

func alert(kind string, created time.Time) storage.Alert {
	return storage.Alert{ID: uuid.NewString(), Kind: kind, Payload: []byte(`{"kind":"` + kind + `"}`), CreatedAt: created}
}

func testEnqueueAlertsOnce(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mark, err := s.AlertScanMark(ctx)
	ok(t, err)
	if !mark.IsZero() {
		t.Fatalf("fresh mark %v", mark)
	}
	a, b := alert("test", t0), alert("emergencyAccountSignIn", at(time.Second))
	urls := []string{"https://hooks.example/a", "https://hooks.example/b"}
	added, err := s.EnqueueAlerts(ctx, []storage.Alert{a, b}, urls, at(time.Minute))
	ok(t, err)
	equal(t, "added", added, []storage.Alert{a, b})
	added, err = s.EnqueueAlerts(ctx, []storage.Alert{b}, urls, at(30*time.Second))
	ok(t, err)
	equal(t, "added again", len(added), 0)
	mark, err = s.AlertScanMark(ctx)
	ok(t, err)
	equal(t, "mark never goes back", mark, at(time.Minute))
	ds, err := s.ListAlertDeliveries(ctx, b.ID)
	ok(t, err)
	if len(ds) != 2 || ds[0].URL != urls[0] || ds[1].URL != urls[1] || string(ds[0].Payload) != string(b.Payload) ||
		ds[0].Attempts != 0 || ds[0].DeliveredAt != nil || !ds[0].NextAttemptAt.Equal(b.CreatedAt) {
		t.Fatalf("deliveries: %s", show(ds))
	}
}

func testClaimAndFinish(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	a := alert("test", t0)
	_, err := s.EnqueueAlerts(ctx, []storage.Alert{a}, []string{"https://a.example/", "https://b.example/"}, time.Time{})
	ok(t, err)
	_, err = s.ClaimAlertDeliveries(ctx, at(-time.Second), time.Minute, 10)
	ok(t, err)
	got, err := s.ClaimAlertDeliveries(ctx, t0, time.Minute, 10)
	ok(t, err)
	equal(t, "claimed", len(got), 2)
	again, err := s.ClaimAlertDeliveries(ctx, at(30*time.Second), time.Minute, 10)
	ok(t, err)
	equal(t, "claimed while leased", len(again), 0)

	ok(t, s.FinishAlertDelivery(ctx, got[0].ID, storage.AlertAttempt{At: at(time.Second), Delivered: true}))
	ok(t, s.FinishAlertDelivery(ctx, got[1].ID, storage.AlertAttempt{At: at(time.Second), Error: "503 Service Unavailable", Next: at(10 * time.Second)}))
	again, err = s.ClaimAlertDeliveries(ctx, at(5*time.Second), time.Minute, 10)
	ok(t, err)
	equal(t, "claimed before the retry is due", len(again), 0)
	again, err = s.ClaimAlertDeliveries(ctx, at(10*time.Second), time.Minute, 10)
	ok(t, err)
	if len(again) != 1 || again[0].ID != got[1].ID || again[0].Attempts != 1 || again[0].LastError != "503 Service Unavailable" {
		t.Fatalf("retry: %s", show(again))
	}
	ok(t, s.FinishAlertDelivery(ctx, again[0].ID, storage.AlertAttempt{At: at(11 * time.Second), Error: "still down"}))
	again, err = s.ClaimAlertDeliveries(ctx, at(time.Hour), time.Minute, 10)
	ok(t, err)
	equal(t, "claimed after giving up or delivering", len(again), 0)
	ds, err := s.ListAlertDeliveries(ctx, a.ID)
	ok(t, err)
	delivered, gaveUp := 0, 0
	for _, d := range ds {
		if d.DeliveredAt != nil {
			delivered++
		}
		if d.GaveUp {
			gaveUp++
		}
	}
	equal(t, "delivered, gave up", []int{delivered, gaveUp}, []int{1, 1})
	is(t, s.FinishAlertDelivery(ctx, uuid.NewString(), storage.AlertAttempt{At: t0, Delivered: true}), storage.ErrNotFound)
}

// testClaimRace: workers claiming at once on any nodes never get the same delivery.
func testClaimRace(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	var urls []string
	for i := range 20 {
		urls = append(urls, fmt.Sprintf("https://hook%d.example/", i))
	}
	_, err := s.EnqueueAlerts(ctx, []storage.Alert{alert("test", t0)}, urls, time.Time{})
	ok(t, err)
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				got, err := s.ClaimAlertDeliveries(ctx, t0, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					all = append(all, d.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(all)
	equal(t, "claimed in all", len(all), 20)
	equal(t, "claimed twice", len(slices.Compact(all)), 20)
}

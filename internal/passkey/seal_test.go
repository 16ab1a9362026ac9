package passkey

import (
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage/storagetest"
)

var sealT0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func sealState(id string, expires time.Time) sealedState {
	return sealedState{ID: id, Kind: "login", UserID: "user-1", Expires: expires.UnixMilli(), Data: []byte{0x81, 0xa1, 0x61, 0x01}}
}

// Two nodes share one database: each opens what the other sealed, through a
// rotation, until the old key's challenges have expired.
func TestSealedChallengesSpanNodesAndRotations(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			db := b.New(t)
			const ttl = 5 * time.Minute
			a, bNode := newSealer(db.Open(t), ttl), newSealer(db.Open(t), ttl)

			st := sealState("first", sealT0.Add(ttl))
			sealed, err := a.seal(t.Context(), st, sealT0)
			if err != nil {
				t.Fatal(err)
			}
			challenge := base64.RawURLEncoding.EncodeToString(sealed)
			got, err := bNode.open(t.Context(), challenge, sealT0.Add(time.Minute))
			if err != nil || !reflect.DeepEqual(got, st) {
				t.Fatalf("node B opened %+v, %v; want %+v", got, err, st)
			}
			if _, err := a.open(t.Context(), challenge, sealT0.Add(ttl)); !errors.Is(err, errUnsealable) {
				t.Fatalf("an expired challenge opened: %v", err)
			}

			// A day later node B seals under a new key, which node A loads to
			// open it; A still opens the old key's last challenge.
			later := sealT0.Add(keyRotation)
			last, err := a.seal(t.Context(), sealState("last", later.Add(2*time.Minute)), later.Add(-time.Second))
			if err != nil {
				t.Fatal(err)
			}
			next, err := bNode.seal(t.Context(), sealState("next", later.Add(ttl)), later)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(next[1:sealHeader], last[1:sealHeader]) {
				t.Fatal("no new key a day later")
			}
			for _, c := range [][]byte{last, next} {
				if _, err := a.open(t.Context(), base64.RawURLEncoding.EncodeToString(c), later.Add(time.Minute)); err != nil {
					t.Fatalf("node A did not open a challenge of the rotation: %v", err)
				}
			}
			// Once the old key has expired it opens nothing.
			c := newSealer(db.Open(t), ttl)
			if _, err := c.open(t.Context(), base64.RawURLEncoding.EncodeToString(last), later.Add(ttl)); !errors.Is(err, errUnsealable) {
				t.Fatalf("a challenge of an expired key: %v", err)
			}

			// A challenge that would outlive the sealing key (a key made
			// when the longest ceremony was shorter) is sealed under a new
			// key that lasts as long as it does.
			long := sealState("long", later.Add(keyRotation+time.Hour))
			sealed, err = a.seal(t.Context(), long, later.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(sealed[1:sealHeader], next[1:sealHeader]) {
				t.Fatal("a challenge outliving its key was sealed under it")
			}
			got, err = newSealer(db.Open(t), ttl).open(t.Context(), base64.RawURLEncoding.EncodeToString(sealed), later.Add(keyRotation+30*time.Minute))
			if err != nil || !reflect.DeepEqual(got, long) {
				t.Fatalf("the long challenge opened as %+v, %v", got, err)
			}
		})
	}
}

// Every byte of a sealed challenge is covered: changing any one makes it
// unsealable, and so does anything that is not a sealed challenge.
func TestSealedChallengeTampering(t *testing.T) {
	k := newSealer(storagetest.NewSQLite(t).Open(t), 5*time.Minute)
	sealed, err := k.seal(t.Context(), sealState("x", sealT0.Add(time.Minute)), sealT0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 0x40
		if _, err := k.open(t.Context(), base64.RawURLEncoding.EncodeToString(bad), sealT0); !errors.Is(err, errUnsealable) {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
	enc := base64.RawURLEncoding.EncodeToString(sealed)
	for _, bad := range []string{"", "AA", "not base64!", enc + "=", enc[:len(enc)-3], string(make([]byte, 1<<20))} {
		if _, err := k.open(t.Context(), bad, sealT0); !errors.Is(err, errUnsealable) {
			t.Fatalf("open(%.20q) = %v, want errUnsealable", bad, err)
		}
	}
}

// FuzzOpenChallenge opens client-supplied challenges: none panics, and the
// only one that opens is the one sealed.
func FuzzOpenChallenge(f *testing.F) {
	k := newSealer(storagetest.NewSQLite(f).Open(f), 5*time.Minute)
	want := sealState("seeded", sealT0.Add(time.Minute))
	sealed, err := k.seal(f.Context(), want, sealT0)
	if err != nil {
		f.Fatal(err)
	}
	valid := base64.RawURLEncoding.EncodeToString(sealed)
	f.Add(valid)
	f.Add(valid[:40])
	f.Add("AQ" + valid[2:])
	f.Add("")
	f.Fuzz(func(t *testing.T, challenge string) {
		got, err := k.open(t.Context(), challenge, sealT0)
		switch {
		case err == nil && challenge != valid && !reflect.DeepEqual(got, want):
			t.Fatalf("%q opened as %+v", challenge, got)
		case err != nil && !errors.Is(err, errUnsealable):
			t.Fatalf("open: %v", err)
		}
	})
}

// Used-challenge IDs sort in the order they were made, across milliseconds
// (each insert lands at the table's right edge), and never repeat.
func TestUsedChallengeIDsSortByTime(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := range 200 {
		if i%50 == 0 {
			time.Sleep(2 * time.Millisecond) // a later millisecond
		}
		id := usedChallengeID()
		if seen[id] || id <= prev {
			t.Fatalf("ID %d %q after %q (seen before: %v): not in the order made", i, id, prev, seen[id])
		}
		seen[id], prev = true, id
	}
}

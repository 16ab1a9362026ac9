package mds

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"runtime"
	"runtime/trace"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/storage"
)

// benchBlob is about the production blob's shape: ~400 entries, ~5 MB,
// most of it icons, each entry with an attestation root.
func benchBlob(b *testing.B) (*mdstest.PKI, []byte) {
	pki := newPKI(b)
	ca := newCA(b, "Vendor")
	icon := make([]byte, 6*1024)
	rand.Read(icon)
	p := mdstest.Payload{Number: 77, NextUpdate: nextMonth()}
	for i := range 400 {
		p.Entries = append(p.Entries, mdstest.EntryOptions{
			AAGUID:              fmt.Sprintf("%08x-0000-4000-8000-000000000000", i+1),
			Description:         fmt.Sprintf("Authenticator model %d", i+1),
			Statuses:            []string{"FIDO_CERTIFIED_L1"},
			AttestationRootPEMs: []string{ca.CertPEM()},
			Icon:                "data:image/png;base64," + base64.StdEncoding.EncodeToString(icon),
		})
	}
	return pki, sign(b, pki, p)
}

// BenchmarkParse measures one refresh: verify and parse the whole blob.
// MB-retained is the heap the parsed Blob keeps alive.
func BenchmarkParse(b *testing.B) {
	pki, raw := benchBlob(b)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"import_via_go_webauthn_decoder", Options{Roots: []string{pki.RootPEM()}}},
		{"reload_of_stored_blob", Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true}},
		// As a node refreshes: paced (its time is mostly the pauses; a
		// runtime trace, -trace, shows its slices of CPU).
		{"reload_in_the_background", Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true, Background: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				var err error
				// The region marks each parse in a runtime trace (-trace).
				trace.WithRegion(b.Context(), "parse", func() { _, err = Parse(raw, tc.opts) })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			blob, err := Parse(raw, tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6, "MB-retained")
			b.ReportMetric(float64(blob.Entries), "entries")
			b.ReportMetric(float64(len(raw))/1e6, "MB-blob")
			runtime.KeepAlive(blob)
		})
	}
}

// BenchmarkCheckAttestation is the MDS part of one registration.
func BenchmarkCheckAttestation(b *testing.B) {
	ca := newCA(b, "Vendor")
	pki := newPKI(b)
	blob, err := Parse(sign(b, pki, simplePayload(1, ca)), Options{Roots: []string{pki.RootPEM()}})
	if err != nil {
		b.Fatal(err)
	}
	leaf, _, err := ca.Issue(aaguidYubi)
	if err != nil {
		b.Fatal(err)
	}
	x5c := []*x509.Certificate{leaf}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if ok, why := blob.CheckAttestation(aaguidYubi, x5c, now); !ok {
			b.Fatal(why)
		}
	}
}

// BenchmarkLookup is the MDS part of a sign-in with blockCompromisedModels:
// a registered key's model found in a production-sized blob (400 entries)
// by AAGUID, and its status judged.
func BenchmarkLookup(b *testing.B) {
	pki, raw := benchBlob(b)
	blob, err := Parse(raw, Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true})
	if err != nil {
		b.Fatal(err)
	}
	var aaguids []string
	for i := range 400 {
		aaguids = append(aaguids, fmt.Sprintf("%08x-0000-4000-8000-000000000000", i+1))
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 1) % len(aaguids)
		e, ok := EntryOf(blob, aaguids[i], "")
		if !ok {
			b.Fatal("entry not found")
		}
		if bad, why := e.Undesired(now); bad {
			b.Fatal(why)
		}
	}
}

// BenchmarkCheckAttestationChain judges a packed full-attestation chain
// (leaf and intermediate) against its model's MDS entry: the first time a
// chain is seen (every signature checked) and again (remembered for the blob).
func BenchmarkCheckAttestationChain(b *testing.B) {
	vendor := newCA(b, "Vendor")
	inter, err := vendor.NewIntermediate("Vendor Intermediate")
	if err != nil {
		b.Fatal(err)
	}
	const aaguid = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	blob := parseBlob(b, mdstest.Payload{Number: 1, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{
		{AAGUID: aaguid, Description: "Vendor key", Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{vendor.CertPEM()}}}})
	leaf, _, err := inter.Issue(aaguid)
	if err != nil {
		b.Fatal(err)
	}
	chain := []*x509.Certificate{leaf, inter.Cert}
	now := time.Now()
	b.Run("first_seen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := blob.byAAGUID[aaguid].verifyChainUncached(leaf, chain[1:], now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, reason := blob.CheckAttestation(aaguid, chain, now); !ok {
				b.Fatal(reason)
			}
		}
	})
}

// BenchmarkRefresh is one node's refresh after another stored a new blob:
// the number check, the blob read from SQLite, the parse and the swap
// (Refresh: the parse Current starts in the background, waited for).
func BenchmarkRefresh(b *testing.B) {
	pki, _ := benchBlob(b)
	st := openStore(b)
	ctx := b.Context()
	reader := &Service{Store: st, Options: Options{Roots: []string{pki.RootPEM()}}}
	icon := make([]byte, 6*1024)
	rand.Read(icon)
	number := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		number++
		p := mdstest.Payload{Number: number, NextUpdate: nextMonth()}
		for i := range 400 {
			p.Entries = append(p.Entries, mdstest.EntryOptions{AAGUID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i+1),
				Description: "model", AttestationRootPEMs: []string{pki.RootPEM()},
				Icon: "data:image/png;base64," + base64.StdEncoding.EncodeToString(icon)})
		}
		if err := st.PutMDSBlob(ctx, storage.MDSBlob{Number: number, NextUpdate: nextMonth(), Raw: sign(b, pki, p), Source: "bench"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if cur, err := reader.Refresh(ctx); err != nil || cur.Number != number {
			b.Fatal(cur, err)
		}
	}
}

package mds

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"

	"github.com/keyward/keyward/internal/mds/mdstest"
)

func parseBlob(t testing.TB, p mdstest.Payload) *Blob {
	t.Helper()
	pki := newPKI(t)
	b, err := Parse(sign(t, pki, p), Options{Roots: []string{pki.RootPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestUndesired(t *testing.T) {
	at := day("2025-06-01")
	report := func(status, effective, sunset string) metadata.StatusReportJSON {
		return metadata.StatusReportJSON{Status: metadata.AuthenticatorStatus(status), EffectiveDate: effective, SunsetDate: sunset}
	}
	tests := []struct {
		name    string
		reports []metadata.StatusReportJSON
		want    string // "" = not undesired
	}{
		{"certified_is_fine", []metadata.StatusReportJSON{report("FIDO_CERTIFIED_L1", "2020-01-01", "")}, ""},
		{"no_reports_is_fine", nil, ""},
		{"revoked", []metadata.StatusReportJSON{report("REVOKED", "", "")}, "REVOKED"},
		{"attestation_key_compromise", []metadata.StatusReportJSON{report("ATTESTATION_KEY_COMPROMISE", "2024-01-01", "")}, "ATTESTATION_KEY_COMPROMISE"},
		{"user_verification_bypass", []metadata.StatusReportJSON{report("USER_VERIFICATION_BYPASS", "", "")}, "USER_VERIFICATION_BYPASS"},
		{"user_key_remote_compromise", []metadata.StatusReportJSON{report("USER_KEY_REMOTE_COMPROMISE", "", "")}, "USER_KEY_REMOTE_COMPROMISE"},
		{"user_key_physical_compromise", []metadata.StatusReportJSON{report("USER_KEY_PHYSICAL_COMPROMISE", "", "")}, "USER_KEY_PHYSICAL_COMPROMISE"},
		{"retired_is_not_undesired", []metadata.StatusReportJSON{report("RETIRED", "2024-01-01", "")}, ""},
		{"update_available_is_not_undesired", []metadata.StatusReportJSON{report("UPDATE_AVAILABLE", "", "")}, ""},
		{"later_certification_does_not_retract_revocation", []metadata.StatusReportJSON{
			report("REVOKED", "2023-01-01", ""), report("FIDO_CERTIFIED_L2", "2024-01-01", "")}, "REVOKED"},
		{"update_available_does_not_retract_bypass", []metadata.StatusReportJSON{
			report("USER_VERIFICATION_BYPASS", "2023-01-01", ""), report("UPDATE_AVAILABLE", "2023-02-01", "")}, "USER_VERIFICATION_BYPASS"},
		{"future_revocation_not_yet_in_effect", []metadata.StatusReportJSON{report("REVOKED", "2030-01-01", "")}, ""},
		{"sunset_compromise_no_longer_counts", []metadata.StatusReportJSON{report("USER_KEY_REMOTE_COMPROMISE", "2020-01-01", "2025-01-01")}, ""},
		{"names_every_undesired_status", []metadata.StatusReportJSON{
			report("REVOKED", "", ""), report("USER_VERIFICATION_BYPASS", "", ""), report("REVOKED", "", "")}, "REVOKED and USER_VERIFICATION_BYPASS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := parseBlob(t, mdstest.Payload{Number: 1, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{
				{AAGUID: aaguidYubi, Description: "YubiKey 5 NFC", StatusReports: tt.reports}}})
			e, _ := b.Lookup(aaguidYubi)
			bad, why := e.Undesired(at)
			if bad != (tt.want != "") {
				t.Fatalf("Undesired = %v, %q", bad, why)
			}
			if bad && why != "the FIDO Alliance reports this model (YubiKey 5 NFC) as "+tt.want {
				t.Errorf("reason %q", why)
			}
		})
	}
}

func TestStatusReportFields(t *testing.T) {
	b := parseBlob(t, mdstest.Payload{Number: 1, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{{AAGUID: aaguidYubi,
		StatusReports: []metadata.StatusReportJSON{{Status: "FIDO_CERTIFIED_L1", EffectiveDate: "2021-03-04", AuthenticatorVersion: 50100,
			CertificateNumber: "FIDO20020190418001", URL: "https://example.test/cert"}}}}})
	e, _ := b.Lookup(aaguidYubi)
	got := e.Statuses[0]
	if got.Status != "FIDO_CERTIFIED_L1" || !got.EffectiveDate.Equal(day("2021-03-04")) || !got.SunsetDate.IsZero() ||
		got.AuthenticatorVersion != 50100 || got.CertificateNumber != "FIDO20020190418001" || got.URL != "https://example.test/cert" {
		t.Errorf("status report %+v", got)
	}
	if e.AttestationTypes[0] != "basic_full" || e.TimeOfLastStatusChange.IsZero() {
		t.Errorf("entry %+v", e)
	}
}

func issue(t *testing.T, ca *mdstest.AttestationCA, aaguid string, extra ...pkix.Extension) *x509.Certificate {
	t.Helper()
	c, _, err := ca.Issue(aaguid, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tpmSubjectAltName is a critical SAN holding only a directory name, as TPM
// attestation identity key certificates have; crypto/x509 leaves it unhandled.
func tpmSubjectAltName(t *testing.T) pkix.Extension {
	name, err := asn1.Marshal(pkix.Name{CommonName: "id:54504D00"}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSubjectAltName, Critical: true, Value: san}
}

func TestCheckAttestation(t *testing.T) {
	vendor := newCA(t, "Vendor Attestation Root")
	vendorInter, err := vendor.NewIntermediate("Vendor Attestation Intermediate")
	if err != nil {
		t.Fatal(err)
	}
	stranger := newCA(t, "Someone Else's Root")
	compromised := issue(t, vendor, aaguidOther)
	batch := base64.StdEncoding.EncodeToString(compromised.Raw)
	b := parseBlob(t, mdstest.Payload{Number: 1, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{
		{AAGUID: aaguidYubi, Description: "YubiKey 5 NFC", Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{vendor.CertPEM()}},
		{AAGUID: aaguidBad, Description: "Leaky Key", Statuses: []string{"FIDO_CERTIFIED", "REVOKED"}, AttestationRootPEMs: []string{vendor.CertPEM()}},
		{AAGUID: aaguidOther, Description: "Batchy Key", AttestationRootPEMs: []string{vendor.CertPEM()},
			StatusReports: []metadata.StatusReportJSON{{Status: metadata.AttestationKeyCompromise, Certificate: batch}}},
		{AAGUID: "33333333-2222-4333-8444-555555555555", Description: "Rootless Key"},
	}})
	good := issue(t, vendor, aaguidYubi)
	now := time.Now()
	tests := []struct {
		name   string
		aaguid string
		x5c    []*x509.Certificate
		now    time.Time
		reason string // "" = attested
	}{
		{"attested_chain_to_listed_root", aaguidYubi, []*x509.Certificate{good}, now, ""},
		{"attested_whatever_the_aaguid_spelling", strings.ToUpper(aaguidYubi), []*x509.Certificate{good}, now, ""},
		{"attested_through_an_intermediate", aaguidYubi, []*x509.Certificate{issue(t, vendorInter, aaguidYubi), vendorInter.Cert}, now, ""},
		{"attested_without_aaguid_extension", aaguidYubi, []*x509.Certificate{issue(t, vendor, "")}, now, ""},
		{"attested_with_tpm_style_critical_subject_alt_name", aaguidYubi, []*x509.Certificate{issue(t, vendor, "", tpmSubjectAltName(t))}, now, ""},
		{"aaguid_not_in_mds", "44444444-2222-4333-8444-555555555555", []*x509.Certificate{good}, now,
			"AAGUID 44444444-2222-4333-8444-555555555555 is not in the FIDO Metadata Service"},
		{"zero_aaguid", "00000000-0000-0000-0000-000000000000", []*x509.Certificate{good}, now, "its AAGUID is all zeros"},
		{"malformed_aaguid", "zz", []*x509.Certificate{good}, now, `"zz" is not an AAGUID`},
		{"revoked_model", aaguidBad, []*x509.Certificate{issue(t, vendor, aaguidBad)}, now, "the FIDO Alliance reports this model (Leaky Key) as REVOKED"},
		{"no_certificate_self_or_none_attestation", aaguidYubi, nil, now, "the key sent no attestation certificate (self or none attestation)"},
		{"wrong_vendor_root", aaguidYubi, []*x509.Certificate{issue(t, stranger, aaguidYubi)}, now,
			"the attestation certificate does not chain to the vendor root listed in the FIDO Metadata Service"},
		{"intermediate_missing_from_x5c", aaguidYubi, []*x509.Certificate{issue(t, vendorInter, aaguidYubi)}, now, "does not chain to the vendor root"},
		{"certificate_names_another_aaguid", aaguidYubi, []*x509.Certificate{issue(t, vendor, aaguidBad)}, now,
			"the attestation certificate is for AAGUID " + aaguidBad + ", not " + aaguidYubi},
		{"certificate_expired", aaguidYubi, []*x509.Certificate{good}, now.AddDate(11, 0, 0), "the attestation certificate is outside its validity period"},
		{"model_lists_no_root", "33333333-2222-4333-8444-555555555555", []*x509.Certificate{good}, now, "lists no attestation root certificate"},
		{"compromised_batch_refused", aaguidOther, []*x509.Certificate{compromised}, now, "as ATTESTATION_KEY_COMPROMISE"},
		{"other_batch_of_compromised_model_attested", aaguidOther, []*x509.Certificate{issue(t, vendor, aaguidOther)}, now, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := b.CheckAttestation(tt.aaguid, tt.x5c, tt.now)
			if ok != (tt.reason == "") || !strings.Contains(reason, tt.reason) {
				t.Errorf("CheckAttestation = %v, %q; want reason %q", ok, reason, tt.reason)
			}
		})
	}
	t.Run("tpm_fixture_is_refused_by_plain_crypto_x509", func(t *testing.T) {
		c := issue(t, vendor, "", tpmSubjectAltName(t))
		pool := x509.NewCertPool()
		pool.AddCert(vendor.Cert)
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool}); err == nil {
			t.Error("the fixture does not exercise the unhandled critical SAN")
		}
	})
	t.Run("undesired_without_chain_counts_batch_compromise_for_the_model", func(t *testing.T) {
		e, _ := b.Lookup(aaguidOther)
		if bad, _ := e.Undesired(now); !bad {
			t.Error("a batch compromise should count when the chain is unknown")
		}
	})
	t.Run("no_blob_loaded", func(t *testing.T) {
		var none *Blob
		ok, reason := none.CheckAttestation(aaguidYubi, []*x509.Certificate{good}, now)
		if ok || !strings.Contains(reason, "no FIDO Metadata Service blob is loaded") {
			t.Errorf("got %v, %q", ok, reason)
		}
		if _, found := none.Lookup(aaguidYubi); found {
			t.Error("nil blob found an entry")
		}
	})
}

// A chain that verified is remembered with the window in which all its
// certificates are valid: outside it, or with other bytes, it is checked
// (and refused) as if it had never been seen; a new blob remembers nothing.
func TestVerifiedChainsAreRememberedWithinTheirValidity(t *testing.T) {
	vendor := newCA(t, "Vendor Attestation Root")
	inter, err := vendor.NewIntermediate("Vendor Attestation Intermediate")
	if err != nil {
		t.Fatal(err)
	}
	payload := mdstest.Payload{Number: 1, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{
		{AAGUID: aaguidYubi, Description: "YubiKey 5 NFC", Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{vendor.CertPEM()}},
	}}
	b := parseBlob(t, payload)
	leaf := issue(t, inter, aaguidYubi)
	chain := []*x509.Certificate{leaf, inter.Cert}
	now := time.Now()
	check := func(x5c []*x509.Certificate, at time.Time, want string) {
		t.Helper()
		ok, reason := b.CheckAttestation(aaguidYubi, x5c, at)
		if ok != (want == "") || !strings.Contains(reason, want) {
			t.Errorf("CheckAttestation = %v, %q; want reason %q", ok, reason, want)
		}
	}
	check(chain, now, "")
	e, _ := b.Lookup(aaguidYubi)
	entry := b.byAAGUID[e.AAGUID]
	if n := entry.chains.n.Load(); n != 1 {
		t.Fatalf("%d chains remembered, want 1", n)
	}
	check(chain, now.Add(time.Minute), "")
	check(chain, leaf.NotBefore.Add(-time.Second), "outside its validity period")
	check(chain, leaf.NotAfter.Add(time.Second), "outside its validity period")
	check(chain[:1], now, "does not chain to the vendor root")
	stranger, err := newCA(t, "Someone Else").NewIntermediate("Someone Else's Intermediate")
	if err != nil {
		t.Fatal(err)
	}
	check([]*x509.Certificate{leaf, stranger.Cert}, now, "does not chain to the vendor root")

	// Bounded: past maxVerifiedChains a chain is verified every time, and still attested.
	for range maxVerifiedChains + 5 {
		check([]*x509.Certificate{issue(t, vendor, aaguidYubi)}, now, "")
	}
	if n := entry.chains.n.Load(); n != maxVerifiedChains {
		t.Errorf("%d chains remembered, want the bound %d", n, maxVerifiedChains)
	}
	fresh := parseBlob(t, payload)
	if n := fresh.byAAGUID[e.AAGUID].chains.n.Load(); n != 0 {
		t.Errorf("a new blob remembers %d chains", n)
	}
}

// Entries that name the same attestation roots share them, and one pool of
// them, in the parsed blob; each entry still trusts only its own roots.
func TestEntriesShareTheirAttestationRoots(t *testing.T) {
	one, two := newCA(t, "Vendor One Root"), newCA(t, "Vendor Two Root")
	const (
		a, b, c, d = "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002",
			"aaaaaaaa-0000-4000-8000-000000000003", "aaaaaaaa-0000-4000-8000-000000000004"
	)
	blob := parseBlob(t, mdstest.Payload{Number: 1, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{
		{AAGUID: a, Description: "A", AttestationRootPEMs: []string{one.CertPEM()}},
		{AAGUID: b, Description: "B", AttestationRootPEMs: []string{one.CertPEM()}},
		{AAGUID: c, Description: "C", AttestationRootPEMs: []string{one.CertPEM(), two.CertPEM()}},
		{AAGUID: d, Description: "D", AttestationRootPEMs: []string{two.CertPEM()}},
	}})
	ea, eb, ec, ed := blob.byAAGUID[a], blob.byAAGUID[b], blob.byAAGUID[c], blob.byAAGUID[d]
	if ea.AttestationRoots[0] != eb.AttestationRoots[0] || ea.roots != eb.roots {
		t.Error("two entries naming the same root keep a copy each")
	}
	if ec.AttestationRoots[0] != ea.AttestationRoots[0] || ec.AttestationRoots[1] != ed.AttestationRoots[0] {
		t.Error("an entry naming two roots does not share them with the entries naming each")
	}
	if ec.roots == ea.roots || ec.roots == ed.roots || ea.roots == ed.roots {
		t.Error("entries naming different roots share a pool")
	}
	now := time.Now()
	for _, tc := range []struct {
		aaguid string
		ca     *mdstest.AttestationCA
		ok     bool
	}{{a, one, true}, {b, one, true}, {a, two, false}, {c, one, true}, {c, two, true}, {d, two, true}, {d, one, false}} {
		if ok, why := blob.CheckAttestation(tc.aaguid, []*x509.Certificate{issue(t, tc.ca, tc.aaguid)}, now); ok != tc.ok {
			t.Errorf("%s with a key of %s: attested %v (%s), want %v", tc.aaguid, tc.ca.Cert.Subject.CommonName, ok, why, tc.ok)
		}
	}
}

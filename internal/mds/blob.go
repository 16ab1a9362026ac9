// Package mds imports, verifies, stores and serves the FIDO Metadata Service
// (MDS3) blob: the signed list of authenticator models with their attestation
// roots and status reports. Parse verifies a blob's signature chain and reads
// its entries with go-webauthn's metadata package; Blob answers AAGUID
// lookups and attestation checks from memory; Service keeps the verified blob
// in the database so every node shares it, and refreshes it on a schedule.
package mds

import (
	"crypto/x509"
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/google/uuid"
)

// Blob is a verified MDS3 blob, parsed once and read by many goroutines.
type Blob struct {
	Number      int
	NextUpdate  time.Time
	LegalHeader string
	// Entries is the number of entries read (FIDO2, U2F and UAF alike).
	Entries int
	// Warnings are problems that did not make the blob unusable: an expired
	// certificate in the signing chain, a CRL that could not be fetched,
	// entries that could not be read. Status commands and logs show them.
	Warnings []string
	// Signer is the subject of the certificate that signed the blob.
	Signer string
	// Source and ImportedAt are set when the blob comes from the database.
	Source     string
	ImportedAt time.Time

	byAAGUID map[string]*Entry
	byKeyID  map[string]*Entry // U2F entries, by attestation certificate key identifier
}

// Entry is one authenticator model: a FIDO2 entry, keyed by AAGUID, or a
// U2F entry, keyed by its attestation certificate key identifiers.
type Entry struct {
	AAGUID                 string   // lower-case, hyphenated; the zero AAGUID for U2F entries
	KeyIdentifiers         []string // U2F: lower-case hex attestation certificate key identifiers
	Description            string   // the model name
	AuthenticatorVersion   uint32
	AttestationTypes       []string // basic_full, attca, self, ...
	TimeOfLastStatusChange time.Time
	Statuses               []StatusReport
	// AttestationRoots are the trust anchors an attestation chain must end in.
	AttestationRoots []*x509.Certificate

	roots   *x509.CertPool
	reports []metadata.StatusReport
	// chains remembers the attestation chains that verified against roots,
	// so the same batch certificate (a model's units share a few) is not
	// verified again at every registration. It lives as long as the parsed
	// blob: a new blob version starts with an empty one.
	chains *verifiedChains
}

// StatusReport is one status report of an entry. Zero times mean "not given".
type StatusReport struct {
	Status                  string // FIDO_CERTIFIED_L1, REVOKED, ...
	EffectiveDate           time.Time
	SunsetDate              time.Time
	AuthenticatorVersion    uint32
	CertificationDescriptor string
	CertificateNumber       string
	URL                     string
	// Certificate is set when the report concerns one attestation certificate or batch.
	Certificate *x509.Certificate
}

// UndesiredStatuses are the status codes that make a model untrustworthy
// (docs/design.md, "Passkey policy semantics"). RETIRED is not among them: it
// means the vendor no longer sells or certifies the model, not that it is unsafe.
var UndesiredStatuses = []metadata.AuthenticatorStatus{
	metadata.Revoked,
	metadata.AttestationKeyCompromise,
	metadata.UserVerificationBypass,
	metadata.UserKeyRemoteCompromise,
	metadata.UserKeyPhysicalCompromise,
}

// Lookup finds the entry of an AAGUID given in any common spelling.
func (b *Blob) Lookup(aaguid string) (Entry, bool) {
	if b == nil {
		return Entry{}, false
	}
	id, err := uuid.Parse(strings.TrimSpace(aaguid))
	if err != nil {
		return Entry{}, false
	}
	e, ok := b.byAAGUID[id.String()]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// AAGUIDs lists the AAGUIDs of the blob's FIDO2 entries, sorted.
func (b *Blob) AAGUIDs() []string {
	if b == nil {
		return nil
	}
	out := make([]string, 0, len(b.byAAGUID))
	for id := range b.byAAGUID {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Undesired reports whether a status report in effect at the given time marks
// the model untrustworthy (see UndesiredStatuses), and says which in words.
//
// Semantics (the MDS3 spec's, as go-webauthn implements them): a report is in
// effect from its effectiveDate (none = always) until its sunsetDate (none =
// forever). Every report in effect counts, not only the latest: a later
// FIDO_CERTIFIED or UPDATE_AVAILABLE does not retract a REVOKED or a
// compromise, because a firmware fix cannot be seen in an attestation; only a
// sunset date does. Without the attestation chain, a compromise reported for
// one certificate or batch counts for the whole model (CheckAttestation is
// more precise).
func (e Entry) Undesired(at time.Time) (bool, string) {
	return e.undesiredFor(at, nil)
}

// undesiredFor applies Undesired to a key whose attestation chain is x5c:
// an ATTESTATION_KEY_COMPROMISE report that names a certificate or batch
// counts only when x5c contains it. With x5c nil every report counts.
func (e Entry) undesiredFor(at time.Time, x5c []*x509.Certificate) (bool, string) {
	var found []string
	for _, r := range metadata.EffectiveStatusReports(e.reports, at) {
		if !slices.Contains(UndesiredStatuses, r.Status) || slices.Contains(found, string(r.Status)) {
			continue
		}
		if x5c != nil && r.Status == metadata.AttestationKeyCompromise && !reportConcerns(r, x5c) {
			continue
		}
		found = append(found, string(r.Status))
	}
	if len(found) == 0 {
		return false, ""
	}
	model := "this model"
	if e.Description != "" {
		model = "this model (" + e.Description + ")"
	}
	return true, "the FIDO Alliance reports " + model + " as " + strings.Join(found, " and ")
}

// reportConcerns tells whether a report applies to the chain x5c: reports
// that name no certificate apply to every key of the model.
func reportConcerns(r metadata.StatusReport, x5c []*x509.Certificate) bool {
	if r.Certificate == nil && r.BatchCertificate == nil {
		return true
	}
	for _, c := range x5c {
		if (r.Certificate != nil && c.Equal(r.Certificate)) || (r.BatchCertificate != nil && c.Equal(r.BatchCertificate)) {
			return true
		}
	}
	return false
}

// rootSets lets the entries of one blob share their attestation roots.
// go-webauthn parses each entry's roots from its own text, and a vendor's
// root is named by many of its models (every entry of the bench's blob names
// the same one): kept per entry, the same certificate stays in memory once
// for each model, with a pool of its own, and every collection marks all the
// copies for as long as the blob is in use. Entries only read their roots.
type rootSets struct {
	certs map[string]int            // index in list, by DER
	list  []*x509.Certificate       // the first of each
	pools map[string]*x509.CertPool // by the indices of a set's roots, in order
	sets  map[string][]*x509.Certificate
	key   []byte
}

// share returns the certificates of roots as kept for the blob, and their pool.
func (r *rootSets) share(roots []*x509.Certificate) ([]*x509.Certificate, *x509.CertPool) {
	if r.certs == nil {
		r.certs, r.pools, r.sets = map[string]int{}, map[string]*x509.CertPool{}, map[string][]*x509.Certificate{}
	}
	r.key = r.key[:0]
	for _, c := range roots {
		i, ok := r.certs[string(c.Raw)]
		if !ok {
			i = len(r.list)
			r.certs[string(c.Raw)] = i
			r.list = append(r.list, c)
		}
		r.key = binary.AppendUvarint(r.key, uint64(i))
	}
	if pool, ok := r.pools[string(r.key)]; ok {
		return r.sets[string(r.key)], pool
	}
	set := make([]*x509.Certificate, 0, len(roots))
	pool := x509.NewCertPool()
	for _, c := range roots {
		c = r.list[r.certs[string(c.Raw)]]
		set = append(set, c)
		pool.AddCert(c)
	}
	r.pools[string(r.key)], r.sets[string(r.key)] = pool, set
	return set, pool
}

// newEntry converts go-webauthn's parsed entry, its roots shared with the
// blob's other entries through roots.
func newEntry(m metadata.Entry, roots *rootSets) *Entry {
	st := m.MetadataStatement
	e := &Entry{
		AAGUID:                 m.AaGUID.String(),
		Description:            st.Description,
		KeyIdentifiers:         keyIDs(m.AttestationCertificateKeyIdentifiers),
		AuthenticatorVersion:   st.AuthenticatorVersion,
		TimeOfLastStatusChange: m.TimeOfLastStatusChange,
		chains:                 &verifiedChains{},
		reports:                m.StatusReports,
	}
	e.AttestationRoots, e.roots = roots.share(st.AttestationRootCertificates)
	for _, t := range st.AttestationTypes {
		e.AttestationTypes = append(e.AttestationTypes, string(t))
	}
	for _, r := range m.StatusReports {
		e.Statuses = append(e.Statuses, newStatusReport(r))
	}
	return e
}

func keyIDs(in []string) []string {
	out := make([]string, 0, len(in))
	for _, k := range in {
		out = append(out, strings.ToLower(k))
	}
	return out
}

func isZeroAAGUID(aaguid string) bool {
	id, err := uuid.Parse(strings.TrimSpace(aaguid))
	return err == nil && id == uuid.Nil
}

func newStatusReport(r metadata.StatusReport) StatusReport {
	s := StatusReport{
		Status:                  string(r.Status),
		AuthenticatorVersion:    r.AuthenticatorVersion,
		CertificationDescriptor: r.CertificationDescriptor,
		CertificateNumber:       r.CertificateNumber,
		Certificate:             r.Certificate,
	}
	if s.Certificate == nil {
		s.Certificate = r.BatchCertificate
	}
	if r.EffectiveDate != nil {
		s.EffectiveDate = *r.EffectiveDate
	}
	if r.SunsetDate != nil {
		s.SunsetDate = *r.SunsetDate
	}
	if r.URL != nil {
		s.URL = r.URL.String()
	}
	return s
}

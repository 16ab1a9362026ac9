package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/storage"
)

// JSON shapes: the admin API's field names (Microsoft Graph's), so a script
// can move between the CLI and the API without renaming anything.
type userJSON struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	AccountEnabled    bool   `json:"accountEnabled"`
	IsEmergencyAccess bool   `json:"isEmergencyAccess"`
	AdminRole         string `json:"adminRole"` // "" = none; never the password hash
	// Mail is null when not set, as in Graph.
	Mail            *string `json:"mail"`
	CreatedDateTime string  `json:"createdDateTime"`
}

type groupJSON struct {
	ID              string `json:"id"`
	DisplayName     string `json:"displayName"`
	Description     string `json:"description"`
	CreatedDateTime string `json:"createdDateTime"`
}

type tokenJSON struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Role            string  `json:"role"`
	CreatedDateTime string  `json:"createdDateTime"`
	RevokedDateTime *string `json:"revokedDateTime"`
}

func toUserJSON(u storage.User) userJSON {
	return userJSON{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName,
		AccountEnabled: u.AccountEnabled, IsEmergencyAccess: u.IsEmergencyAccess, AdminRole: u.AdminRole,
		Mail: nullable(u.Mail), CreatedDateTime: timestamp(u.CreatedAt)}
}

// nullable is nil for "" (Graph shows an unset string property as null).
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toGroupJSON(g storage.Group) groupJSON {
	return groupJSON{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description, CreatedDateTime: timestamp(g.CreatedAt)}
}

func toTokenJSON(t storage.APIToken) tokenJSON {
	j := tokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, CreatedDateTime: timestamp(t.CreatedAt)}
	if t.RevokedAt != nil {
		s := timestamp(*t.RevokedAt)
		j.RevokedDateTime = &s
	}
	return j
}

// timestamp is Graph's dateTimeOffset form: UTC, seconds precision.
func timestamp(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns; header names are upper case by convention.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		// A tab or newline in a value would break the columns.
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// details writes "Key: value" lines aligned on the colon, for one record.
func details(w io.Writer, pairs ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// mdsStatusJSON describes the stored MDS blob (mds status, import, update).
type mdsStatusJSON struct {
	Imported         bool     `json:"imported"`
	Number           int      `json:"number,omitempty"`
	NextUpdate       string   `json:"nextUpdate,omitempty"` // a date, as in the blob
	Stale            bool     `json:"stale"`                // nextUpdate has passed
	Entries          int      `json:"entries,omitempty"`
	FIDO2Models      int      `json:"fido2Models,omitempty"`
	ImportedDateTime string   `json:"importedDateTime,omitempty"`
	Source           string   `json:"source,omitempty"`
	Signer           string   `json:"signer,omitempty"`
	Warnings         []string `json:"warnings"`
}

func toMDSStatusJSON(b *mds.Blob, now time.Time) mdsStatusJSON {
	j := mdsStatusJSON{
		Imported: true, Number: b.Number, NextUpdate: date(b.NextUpdate), Stale: now.After(b.NextUpdate),
		Entries: b.Entries, FIDO2Models: len(b.AAGUIDs()), Source: b.Source, Signer: b.Signer,
		Warnings: append([]string{}, b.Warnings...),
	}
	if !b.ImportedAt.IsZero() {
		j.ImportedDateTime = timestamp(b.ImportedAt)
	}
	return j
}

// mdsEntryJSON is one authenticator model of the blob (mds show).
type mdsEntryJSON struct {
	AAGUID                 string             `json:"aaguid"`
	Description            string             `json:"description"`
	AuthenticatorVersion   uint32             `json:"authenticatorVersion"`
	AttestationTypes       []string           `json:"attestationTypes"`
	TimeOfLastStatusChange string             `json:"timeOfLastStatusChange"`
	Undesired              bool               `json:"undesired"` // a status report in effect marks it untrustworthy
	UndesiredReason        string             `json:"undesiredReason,omitempty"`
	StatusReports          []statusReportJSON `json:"statusReports"`
	AttestationRoots       []certificateJSON  `json:"attestationRoots"`
	BlobNumber             int                `json:"blobNumber"`
}

type statusReportJSON struct {
	Status                  string `json:"status"`
	EffectiveDate           string `json:"effectiveDate,omitempty"`
	SunsetDate              string `json:"sunsetDate,omitempty"`
	AuthenticatorVersion    uint32 `json:"authenticatorVersion,omitempty"`
	CertificationDescriptor string `json:"certificationDescriptor,omitempty"`
	CertificateNumber       string `json:"certificateNumber,omitempty"`
	URL                     string `json:"url,omitempty"`
	CertificateSubject      string `json:"certificateSubject,omitempty"`
}

type certificateJSON struct {
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	NotBefore string `json:"notBefore"`
	NotAfter  string `json:"notAfter"`
	Expired   bool   `json:"expired"`
	SHA256    string `json:"sha256"` // fingerprint of the DER certificate, hex
}

func toMDSEntryJSON(b *mds.Blob, e mds.Entry, now time.Time) mdsEntryJSON {
	j := mdsEntryJSON{
		AAGUID: e.AAGUID, Description: e.Description, AuthenticatorVersion: e.AuthenticatorVersion,
		AttestationTypes: append([]string{}, e.AttestationTypes...), TimeOfLastStatusChange: date(e.TimeOfLastStatusChange),
		StatusReports: []statusReportJSON{}, AttestationRoots: []certificateJSON{}, BlobNumber: b.Number,
	}
	j.Undesired, j.UndesiredReason = e.Undesired(now)
	for _, r := range e.Statuses {
		s := statusReportJSON{Status: r.Status, EffectiveDate: date(r.EffectiveDate), SunsetDate: date(r.SunsetDate),
			AuthenticatorVersion: r.AuthenticatorVersion, CertificationDescriptor: r.CertificationDescriptor,
			CertificateNumber: r.CertificateNumber, URL: r.URL}
		if r.Certificate != nil {
			s.CertificateSubject = r.Certificate.Subject.String()
		}
		j.StatusReports = append(j.StatusReports, s)
	}
	for _, c := range e.AttestationRoots {
		sum := sha256.Sum256(c.Raw)
		j.AttestationRoots = append(j.AttestationRoots, certificateJSON{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(),
			NotBefore: timestamp(c.NotBefore), NotAfter: timestamp(c.NotAfter),
			Expired: now.After(c.NotAfter), SHA256: hex.EncodeToString(sum[:]),
		})
	}
	return j
}

// allPages pages through a whole list, 1000 at a time, from p: the CLI
// prints everything at once.
func allPages[T any](ctx context.Context, p storage.Page, list func(context.Context, storage.Page) ([]T, string, error)) ([]T, error) {
	var all []T
	p.Limit = 1000
	for {
		items, next, err := list(ctx, p)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		p.After = next
	}
}

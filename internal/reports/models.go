// Package reports answers the questions an administrator asks before
// tightening the passkey policy: which key models are in use, and who and
// what a proposed policy would cut off. Building a report from counts and a
// policy is pure; Service does the reading.
package reports

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/storage"
)

// Windows are the periods the key-models report counts sign-ins in, in UTC
// days: today and the days before it.
var Windows = []int{7, 30, 90}

// WindowStarts are the midnights (UTC) the Windows start at: a 7-day period
// is today and the 6 days before it, so it reads whole days of the daily
// roll-ups.
func WindowStarts(now time.Time) []time.Time {
	today := storage.DayStart(now)
	out := make([]time.Time, len(Windows))
	for i, days := range Windows {
		out[i] = today.AddDate(0, 0, 1-days)
	}
	return out
}

// ZeroAAGUID is what an authenticator that does not name its model sends.
const ZeroAAGUID = "00000000-0000-0000-0000-000000000000"

// ZeroAAGUIDModel is the report's name for the zero AAGUID.
const ZeroAAGUIDModel = "Unknown model (all-zero AAGUID: the authenticator or browser did not say which it is; never satisfies an allow list)"

// PasskeyModel is one row of the key-models report.
type PasskeyModel struct {
	AAGUID string `json:"aaGuid"`
	// Model is the MDS name, else the name stored with the passkeys, else "".
	Model string `json:"model"`
	// MDSStatus is the model's latest MDS status report ("" when MDS does not list it).
	MDSStatus string `json:"mdsStatus"`
	InMDS     bool   `json:"inMds"`
	// PasskeyType is deviceBound, synced or mixed; AttestationLevel is
	// attested, notAttested or mixed.
	PasskeyType        string `json:"passkeyType"`
	AttestationLevel   string `json:"attestationLevel"`
	DeviceBound        int    `json:"deviceBoundPasskeys"`
	Synced             int    `json:"syncedPasskeys"`
	Attested           int    `json:"attestedPasskeys"`
	NotAttested        int    `json:"notAttestedPasskeys"`
	RegisteredPasskeys int    `json:"registeredPasskeys"`
	Users              int    `json:"users"`
	SignIns7Days       int    `json:"signIns7Days"`
	SignIns30Days      int    `json:"signIns30Days"`
	SignIns90Days      int    `json:"signIns90Days"`
	SignInUsers7Days   int    `json:"signInUsers7Days"`
	SignInUsers30Days  int    `json:"signInUsers30Days"`
	SignInUsers90Days  int    `json:"signInUsers90Days"`
	LastUsedDateTime   string `json:"lastUsedDateTime"` // "" = never
}

// NewPasskeyModel builds a row from the stored counts and the MDS blob (nil
// when none is imported).
func NewPasskeyModel(u storage.PasskeyModelUsage, blob *mds.Blob) PasskeyModel {
	m := PasskeyModel{AAGUID: u.AAGUID, Model: u.Model, DeviceBound: u.DeviceBound, Synced: u.Synced,
		Attested: u.Attested, NotAttested: u.NotAttested, RegisteredPasskeys: u.Passkeys, Users: u.Users,
		PasskeyType:      mix(u.DeviceBound, u.Synced, "deviceBound", "synced"),
		AttestationLevel: mix(u.Attested, u.NotAttested, storage.AttestationAttested, storage.AttestationNotAttested)}
	if e, ok := blob.Lookup(u.AAGUID); ok {
		m.InMDS, m.Model, m.MDSStatus = true, e.Description, latestStatus(e)
	}
	if u.AAGUID == ZeroAAGUID {
		m.Model = ZeroAAGUIDModel
	}
	at := func(s []int, i int) int {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	m.SignIns7Days, m.SignIns30Days, m.SignIns90Days = at(u.SignIns, 0), at(u.SignIns, 1), at(u.SignIns, 2)
	m.SignInUsers7Days, m.SignInUsers30Days, m.SignInUsers90Days = at(u.SignInUsers, 0), at(u.SignInUsers, 1), at(u.SignInUsers, 2)
	if u.LastUsed != nil {
		m.LastUsedDateTime = u.LastUsed.UTC().Format(time.RFC3339)
	}
	return m
}

func mix(a, b int, aName, bName string) string {
	switch {
	case a > 0 && b > 0:
		return "mixed"
	case b > 0:
		return bName
	}
	return aName
}

// latestStatus is the status of the report that took effect last (the
// last listed among equal dates).
func latestStatus(e mds.Entry) string {
	var best mds.StatusReport
	for _, r := range e.Statuses {
		if best.Status == "" || !r.EffectiveDate.Before(best.EffectiveDate) {
			best = r
		}
	}
	return best.Status
}

// Service reads the reports.
type Service struct {
	Store    storage.Storage
	Metadata *mds.Service
	Now      func() time.Time
}

// PasskeyModels is the key-models report, one row per AAGUID in use (among
// the group's members when groupID is set).
func (s *Service) PasskeyModels(ctx context.Context, groupID string) ([]PasskeyModel, error) {
	if groupID != "" {
		if _, err := s.Store.GetGroup(ctx, groupID); errors.Is(err, storage.ErrNotFound) {
			return nil, apperr.NotFound("there is no group %q", groupID).Wrap(err)
		} else if err != nil {
			return nil, apperr.Internal(err)
		}
	}
	q := storage.PasskeyModelQuery{GroupID: groupID, Windows: WindowStarts(s.Now())}
	usage, err := s.Store.PasskeyModels(ctx, q)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	blob, err := s.Metadata.Current(ctx)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := make([]PasskeyModel, len(usage))
	for i, u := range usage {
		out[i] = NewPasskeyModel(u, blob)
	}
	return out, nil
}

// WriteCSV writes the key-models report as CSV, one header line first.
func WriteCSV(w io.Writer, rows []PasskeyModel) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"aaGuid", "model", "mdsStatus", "passkeyType", "attestationLevel", "registeredPasskeys",
		"users", "deviceBoundPasskeys", "syncedPasskeys", "attestedPasskeys", "notAttestedPasskeys",
		"signIns7Days", "signIns30Days", "signIns90Days", "signInUsers7Days", "signInUsers30Days",
		"signInUsers90Days", "lastUsedDateTime"})
	n := strconv.Itoa
	for _, r := range rows {
		_ = cw.Write([]string{r.AAGUID, csvText(r.Model), r.MDSStatus, r.PasskeyType, r.AttestationLevel,
			n(r.RegisteredPasskeys), n(r.Users), n(r.DeviceBound), n(r.Synced), n(r.Attested), n(r.NotAttested),
			n(r.SignIns7Days), n(r.SignIns30Days), n(r.SignIns90Days), n(r.SignInUsers7Days),
			n(r.SignInUsers30Days), n(r.SignInUsers90Days), r.LastUsedDateTime})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// csvText keeps a spreadsheet from reading a model name as a formula
// (names come from MDS and from authenticators, not from us).
func csvText(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func pageError(err error) error {
	if errors.Is(err, storage.ErrBadCursor) {
		return apperr.BadRequest("$skiptoken is not valid; follow @odata.nextLink from the previous page instead of editing it")
	}
	return apperr.Internal(err)
}

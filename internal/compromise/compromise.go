// Package compromise follows the day a key model is found unsafe: it finds
// every registered passkey whose model the FIDO Metadata Service now reports
// with an undesired status (REVOKED, a compromise, a user-verification
// bypass), and, when a refreshed or imported blob newly distrusts a model,
// logs and audits each affected passkey and counts them in a metric. Finding
// them is pure (Find, NewlyUndesired); Service does the reading and writing.
package compromise

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/storage"
)

// Affected is one registered passkey of a distrusted model.
type Affected struct {
	UserID            string     `json:"userId"`
	UserPrincipalName string     `json:"userPrincipalName"`
	UserDisplayName   string     `json:"userDisplayName"`
	MethodID          string     `json:"methodId"`
	MethodName        string     `json:"methodDisplayName"`
	AAGUID            string     `json:"aaGuid"`
	KeyIdentifier     string     `json:"attestationCertificateKeyIdentifier,omitempty"`
	Model             string     `json:"model"`
	Reason            string     `json:"reason"`
	LastUsedDateTime  *time.Time `json:"lastUsedDateTime"`
}

// Find lists the passkeys in owners whose model blob reports undesired at
// the time at, ordered by user and then method.
func Find(owners []storage.CredentialOwner, blob *mds.Blob, at time.Time) []Affected {
	out := []Affected{}
	if blob == nil {
		return out
	}
	for _, o := range owners {
		c := o.Credential
		e, ok := mds.EntryOf(blob, c.AAGUID, c.AttestationKeyID)
		if !ok {
			continue
		}
		bad, why := e.Undesired(at)
		if !bad {
			continue
		}
		out = append(out, Affected{
			UserID: o.User.ID, UserPrincipalName: o.User.UserPrincipalName, UserDisplayName: o.User.DisplayName,
			MethodID: c.ID, MethodName: c.DisplayName, AAGUID: c.AAGUID, KeyIdentifier: c.AttestationKeyID,
			Model: cmp.Or(e.Description, c.Model), Reason: why, LastUsedDateTime: c.LastUsedAt,
		})
	}
	slices.SortFunc(out, func(a, b Affected) int {
		return cmp.Or(cmp.Compare(a.UserPrincipalName, b.UserPrincipalName), cmp.Compare(a.MethodID, b.MethodID))
	})
	return out
}

// NewlyUndesired keeps the affected passkeys whose model old did not
// distrust, or distrusted for another reason: what a blob change brought.
func NewlyUndesired(affected []Affected, old *mds.Blob, at time.Time) []Affected {
	out := []Affected{}
	for _, a := range affected {
		if old != nil {
			if e, ok := mds.EntryOf(old, a.AAGUID, a.KeyIdentifier); ok {
				if bad, why := e.Undesired(at); bad && why == a.Reason {
					continue
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// Service reads the passkeys and the current blob, and reacts to new blobs.
type Service struct {
	Store    storage.Storage
	Metadata interface {
		Current(ctx context.Context) (*mds.Blob, error)
	}
	Logger *slog.Logger
	Now    func() time.Time

	affected prometheus.Gauge
	newly    prometheus.Counter
}

// Register adds the service's metrics to reg.
func (s *Service) Register(reg prometheus.Registerer) error {
	s.affected = prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyward_passkeys_of_distrusted_models",
		Help: "Registered passkeys whose model the FIDO Metadata Service reports as revoked or compromised, as of the last MDS blob change."})
	s.newly = prometheus.NewCounter(prometheus.CounterOpts{Name: "keyward_passkeys_newly_distrusted_total",
		Help: "Registered passkeys whose model a new MDS blob newly reported as revoked or compromised."})
	for _, c := range []prometheus.Collector{s.affected, s.newly} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("compromise metrics: %w", err)
		}
	}
	return nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Impact lists the registered passkeys of models the current blob distrusts.
func (s *Service) Impact(ctx context.Context) ([]Affected, error) {
	blob, err := s.Metadata.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the MDS blob: %w", err)
	}
	owners, err := s.Store.ListCredentialOwners(ctx)
	if err != nil {
		return nil, err
	}
	return Find(owners, blob, s.now()), nil
}

// BlobChanged re-evaluates the registered passkeys against a new blob (an
// mds.Service's OnNewBlob): each passkey whose model the new blob newly
// distrusts is logged and gets an audit record (action
// passkey.modelDistrusted, target the user), and the metrics are updated.
func (s *Service) BlobChanged(ctx context.Context, old, cur *mds.Blob) error {
	owners, err := s.Store.ListCredentialOwners(ctx)
	if err != nil {
		return fmt.Errorf("re-evaluate passkeys against MDS blob %d: %w", cur.Number, err)
	}
	now := s.now()
	all := Find(owners, cur, now)
	if s.affected != nil {
		s.affected.Set(float64(len(all)))
	}
	newly := NewlyUndesired(all, old, now)
	if len(newly) == 0 {
		return nil
	}
	if s.newly != nil {
		s.newly.Add(float64(len(newly)))
	}
	events := make([]storage.AuditEvent, 0, len(newly))
	for _, a := range newly {
		s.logger().WarnContext(ctx, "a registered passkey's model is now distrusted by the FIDO Metadata Service",
			"user", a.UserPrincipalName, "method_id", a.MethodID, "model", a.Model, "aaguid", a.AAGUID,
			"key_identifier", a.KeyIdentifier, "reason", a.Reason, "mds_number", cur.Number)
		e, err := storage.WithDetails(storage.AuditEvent{ID: uuid.NewString(), Time: now, Actor: "mds",
			Action: "passkey.modelDistrusted", Target: a.UserID}, map[string]any{
			"methodId": a.MethodID, "aaGuid": a.AAGUID, "attestationCertificateKeyIdentifier": a.KeyIdentifier,
			"model": a.Model, "reason": a.Reason, "mdsNumber": cur.Number})
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	return s.Store.Audited(ctx, func(context.Context) ([]storage.AuditEvent, error) { return events, nil })
}

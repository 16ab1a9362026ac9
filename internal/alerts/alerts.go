// Package alerts tells people about emergency-access sign-ins: a WARN log
// line, a Prometheus counter, and a JSON POST to each configured webhook
// (signed with HMAC-SHA256 when the webhook has a secret).
//
// Nothing is added to the sign-in path: a worker on every node scans the
// sign-in log for emergency accounts' events, stores each as an alert once
// (by the event's ID) with one delivery per webhook, and delivers from that
// durable queue with retries and backoff, so a slow webhook never slows a
// sign-in and a restart loses no alert.
package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/storage"
)

// Alert kinds (the event's "type").
const (
	KindEmergencySignIn = "emergencyAccountSignIn"
	KindTest            = "test"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// under the webhook's secret.
const SignatureHeader = "X-Keyward-Signature"

// Webhook is where alerts are posted.
type Webhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// Event is the JSON body of an alert.
type Event struct {
	ID                string    `json:"id"`
	Type              string    `json:"type"`
	Time              time.Time `json:"time"`
	Message           string    `json:"message"`
	UserID            string    `json:"userId,omitempty"`
	UserPrincipalName string    `json:"userPrincipalName,omitempty"`
	Result            string    `json:"result,omitempty"`
	FailureReason     string    `json:"failureReason,omitempty"`
	Method            string    `json:"authenticationMethod,omitempty"`
	AAGUID            string    `json:"aaGuid,omitempty"`
	Model             string    `json:"model,omitempty"`
	IPAddress         string    `json:"ipAddress,omitempty"`
	UserAgent         string    `json:"userAgent,omitempty"`
}

// Tuning of the scan and the retries.
const (
	// lookback: events are scanned from this long before the last mark, so
	// one committed late (on another node) is still found; IDs dedupe.
	lookback     = 5 * time.Minute
	scanLimit    = 500
	claimLimit   = 20
	lease        = time.Minute
	firstRetry   = 10 * time.Second
	maxRetry     = time.Hour
	maxAttempts  = 15
	postTimeout  = 10 * time.Second
	maxErrorBody = 200
)

// Service scans, queues and delivers alerts.
type Service struct {
	Store    storage.Storage
	Webhooks []Webhook
	Client   *http.Client // nil = a client with a 10 s timeout
	Logger   *slog.Logger
	Now      func() time.Time
	// SignIns counts emergency-account sign-ins by result (nil = not counted).
	SignIns *prometheus.CounterVec
}

// NewSignInCounter registers keyward_emergency_access_signins_total{result}.
func NewSignInCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyward_emergency_access_signins_total",
		Help: "Sign-ins (successful and failed) of emergency-access accounts seen by this node's alert scan.",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

func (s *Service) urls() []string {
	out := make([]string, 0, len(s.Webhooks))
	for _, w := range s.Webhooks {
		out = append(out, w.URL)
	}
	return out
}

// Scan finds emergency-account sign-ins not yet alerted, queues them, and
// logs and counts each new one. It returns how many were new.
func (s *Service) Scan(ctx context.Context) (int, error) {
	now := s.Now().UTC()
	mark, err := s.Store.AlertScanMark(ctx)
	if err != nil {
		return 0, err
	}
	since := mark.Add(-lookback)
	if mark.IsZero() {
		since = now.Add(-lookback)
	}
	events, err := s.Store.EmergencySignIns(ctx, since, scanLimit)
	if err != nil {
		return 0, err
	}
	next := now
	if len(events) == scanLimit { // more to read: go on from the last one
		next = events[len(events)-1].Time
	}
	var alerts []storage.Alert
	for _, e := range events {
		body, err := json.Marshal(eventOf(e))
		if err != nil {
			return 0, err
		}
		alerts = append(alerts, storage.Alert{ID: e.ID, Kind: KindEmergencySignIn, Payload: body, CreatedAt: now})
	}
	added, err := s.Store.EnqueueAlerts(ctx, alerts, s.urls(), next)
	if err != nil {
		return 0, err
	}
	for _, a := range added {
		var e Event
		_ = json.Unmarshal(a.Payload, &e) // we marshalled it just now
		s.Logger.WarnContext(ctx, "emergency-access account sign-in", "user", e.UserPrincipalName, "result", e.Result,
			"reason", e.FailureReason, "ip", e.IPAddress, "method", e.Method, "event", e.ID, "webhooks", len(s.Webhooks))
		if s.SignIns != nil {
			s.SignIns.WithLabelValues(e.Result).Inc()
		}
	}
	return len(added), nil
}

func eventOf(e storage.SignInEvent) Event {
	msg := fmt.Sprintf("Emergency-access account %s signed in", e.UserPrincipalName)
	if e.Result != storage.ResultSuccess {
		msg = fmt.Sprintf("Emergency-access account %s failed to sign in: %s", e.UserPrincipalName, e.FailureReason)
	}
	return Event{ID: e.ID, Type: KindEmergencySignIn, Time: e.Time, Message: msg, UserID: e.UserID,
		UserPrincipalName: e.UserPrincipalName, Result: e.Result, FailureReason: e.FailureReason, Method: e.Method,
		AAGUID: e.AAGUID, Model: e.Model, IPAddress: e.IP, UserAgent: e.UserAgent}
}

// QueueTest queues a test alert for every webhook and returns its ID.
func (s *Service) QueueTest(ctx context.Context, actor string) (string, error) {
	now := s.Now().UTC()
	id := uuid.NewString()
	body, err := json.Marshal(Event{ID: id, Type: KindTest, Time: now,
		Message: "Test alert from Keyward, sent by " + actor + ": emergency-access alerts reach this webhook."})
	if err != nil {
		return "", err
	}
	_, err = s.Store.EnqueueAlerts(ctx, []storage.Alert{{ID: id, Kind: KindTest, Payload: body, CreatedAt: now}}, s.urls(), time.Time{})
	return id, err
}

// Deliver posts the deliveries that are due and records each attempt. It
// returns how many were delivered.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	ds, err := s.Store.ClaimAlertDeliveries(ctx, s.Now().UTC(), lease, claimLimit)
	if err != nil {
		return 0, err
	}
	delivered := 0
	for _, d := range ds {
		at := s.Now().UTC()
		if !slices.Contains(s.urls(), d.URL) {
			// The webhook was taken out of the configuration: nobody to tell.
			if err := s.Store.FinishAlertDelivery(ctx, d.ID, storage.AlertAttempt{At: at, Error: "the webhook is no longer configured"}); err != nil {
				return delivered, err
			}
			continue
		}
		err := s.post(ctx, d)
		at = s.Now().UTC()
		attempt := storage.AlertAttempt{At: at, Delivered: err == nil}
		if err != nil {
			attempt.Error = err.Error()
			if d.Attempts+1 < maxAttempts {
				attempt.Next = at.Add(Backoff(d.Attempts + 1))
			}
			s.Logger.WarnContext(ctx, "alert webhook failed", "url", d.URL, "alert", d.AlertID, "attempt", d.Attempts+1,
				"error", err, "gave_up", attempt.Next.IsZero())
		} else {
			delivered++
		}
		if ferr := s.Store.FinishAlertDelivery(ctx, d.ID, attempt); ferr != nil {
			return delivered, ferr
		}
	}
	return delivered, nil
}

// Backoff is the wait before attempt n+1 after n failed ones: 10 s,
// doubling, at most an hour.
func Backoff(failed int) time.Duration {
	d := firstRetry
	for i := 1; i < failed && d < maxRetry; i++ {
		d *= 2
	}
	return min(d, maxRetry)
}

func (s *Service) secret(url string) string {
	for _, w := range s.Webhooks {
		if w.URL == url {
			return w.Secret
		}
	}
	return ""
}

// Sign is the SignatureHeader value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Service) post(ctx context.Context, d storage.AlertDelivery) error {
	ctx, cancel := context.WithTimeout(ctx, postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return err
	}
	var e struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(d.Payload, &e)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Keyward-Alerts")
	req.Header.Set("X-Keyward-Event", e.Type)
	req.Header.Set("X-Keyward-Delivery", d.ID)
	if sec := s.secret(d.URL); sec != "" {
		req.Header.Set(SignatureHeader, Sign(sec, d.Payload))
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: postTimeout}
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		return fmt.Errorf("%s: %s", res.Status, bytes.TrimSpace(b))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	return nil
}

// Run scans and delivers every interval until ctx ends; problems are logged.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Scan(ctx); err != nil && ctx.Err() == nil {
			s.Logger.ErrorContext(ctx, "alerts: scan the sign-in log", "error", err)
		}
		if _, err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
			s.Logger.ErrorContext(ctx, "alerts: deliver", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package storage

import (
	"context"
	"time"
)

// AlertStorage is the durable queue of alerts (emergency-account sign-ins)
// and their webhook deliveries, shared by every node.
type AlertStorage interface {
	// EmergencySignIns lists the sign-in events at or after since of users
	// who are emergency-access accounts, oldest first, at most limit.
	EmergencySignIns(ctx context.Context, since time.Time, limit int) ([]SignInEvent, error)
	// AlertScanMark is how far EnqueueAlerts has scanned (zero: never).
	AlertScanMark(ctx context.Context) (time.Time, error)
	// EnqueueAlerts stores each alert once (a repeated ID is ignored) with a
	// delivery to each URL due at its CreatedAt, and moves the scan mark to
	// mark unless it is already later, in one transaction. It returns the
	// alerts that were new.
	EnqueueAlerts(ctx context.Context, alerts []Alert, urls []string, mark time.Time) ([]Alert, error)
	// ClaimAlertDeliveries leases up to limit deliveries that are not
	// delivered, not given up, due at now and not leased, until now+lease:
	// of workers claiming at once on any nodes, each delivery goes to one.
	ClaimAlertDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]AlertDelivery, error)
	// FinishAlertDelivery records one attempt of a delivery and ends its lease.
	FinishAlertDelivery(ctx context.Context, id string, a AlertAttempt) error
	// ListAlertDeliveries lists an alert's deliveries by URL.
	ListAlertDeliveries(ctx context.Context, alertID string) ([]AlertDelivery, error)
}

// Alert is one event to tell the webhooks about.
type Alert struct {
	ID        string // the sign-in event's ID, or a test alert's UUID
	Kind      string // e.g. "emergencyAccountSignIn", "test"
	Payload   []byte // the JSON body posted
	CreatedAt time.Time
}

// AlertDelivery is one alert on its way to one webhook.
type AlertDelivery struct {
	ID            string
	AlertID       string
	URL           string
	Payload       []byte // the alert's
	Attempts      int
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	GaveUp        bool
	LastError     string
}

// AlertAttempt is the outcome of one delivery attempt.
type AlertAttempt struct {
	At        time.Time
	Delivered bool
	Error     string    // why it failed
	Next      time.Time // the next attempt; zero gives up
}

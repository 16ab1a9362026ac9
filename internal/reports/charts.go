package reports

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/charts"
	"github.com/keyward/keyward/internal/storage"
)

// Chart names.
const (
	ChartSignInsByMethod        = "signInsByMethod"
	ChartPasskeyRegistrations   = "passkeyRegistrations"
	ChartPhishingResistantShare = "phishingResistantShare"
)

// Charts lists the charts Chart draws.
var Charts = []string{ChartSignInsByMethod, ChartPasskeyRegistrations, ChartPhishingResistantShare}

// methodColors gives every method the sign-in chart knows one color.
var methodColors = []struct{ key, name, color string }{
	{"passkey/deviceBound", "Passkey (device-bound)", "#1d4ed8"},
	{"passkey/synced", "Passkey (synced)", "#60a5fa"},
	{"password", "Password", "#f59e0b"},
	{"totp", "Authenticator app code", "#a855f7"},
	{"tap", "Temporary Access Pass", "#10b981"},
	{"setup", "Setup link", "#6b7280"},
}

// Chart draws the named chart as SVG: sign-ins per day by method and the
// share of phishing-resistant sign-ins over the last 30 days, passkey
// registrations per day over the last 90.
func (s *Service) Chart(ctx context.Context, name string) ([]byte, error) {
	now := s.Now().UTC()
	switch name {
	case ChartSignInsByMethod, ChartPhishingResistantShare:
		days := dayLabels(now, 30)
		counts, err := s.Store.SignInsPerDay(ctx, days[0])
		if err != nil {
			return nil, apperr.Internal(err)
		}
		if name == ChartSignInsByMethod {
			return signInsByMethod(days, counts), nil
		}
		return phishingResistantShare(days, counts), nil
	case ChartPasskeyRegistrations:
		days := dayLabels(now, 90)
		counts, err := s.Store.PasskeysRegisteredPerDay(ctx, days[0])
		if err != nil {
			return nil, apperr.Internal(err)
		}
		return charts.StackedBars(charts.Bars{Title: "Passkeys registered per day, last 90 days", Labels: labels(days),
			Series: []charts.Series{
				{Name: "Device-bound", Color: "#1d4ed8", Values: values(days, counts, "deviceBound")},
				{Name: "Synced", Color: "#60a5fa", Values: values(days, counts, "synced")},
			}}), nil
	}
	return nil, apperr.NotFound("there is no chart %q; the charts are %v", name, Charts)
}

func signInsByMethod(days []time.Time, counts []storage.DailyCount) []byte {
	b := charts.Bars{Title: "Successful sign-ins per day by method, last 30 days", Labels: labels(days)}
	for _, m := range methodColors {
		v := values(days, counts, m.key)
		if sum(v) > 0 || m.key == "passkey/deviceBound" || m.key == "password" {
			b.Series = append(b.Series, charts.Series{Name: m.name, Color: m.color, Values: v})
		}
	}
	return charts.StackedBars(b)
}

func phishingResistantShare(days []time.Time, counts []storage.DailyCount) []byte {
	share := make([]float64, len(days))
	rest := make([]float64, len(days))
	for i, d := range days {
		var pr, all float64
		for _, c := range counts {
			if c.Day.Equal(d) && audit.Authenticates(methodOf(c.Key)) {
				all += float64(c.Count)
				if audit.PhishingResistant(methodOf(c.Key)) {
					pr += float64(c.Count)
				}
			}
		}
		if all > 0 {
			share[i] = pr / all * 100
			rest[i] = 100 - share[i]
		}
	}
	return charts.StackedBars(charts.Bars{Title: "Share of sign-ins that were phishing-resistant (passkeys), last 30 days",
		Labels: labels(days), Percent: true, Series: []charts.Series{
			{Name: "Phishing-resistant", Color: "#15803d", Values: share},
			{Name: "Other methods", Color: "#d1d5db", Values: rest},
		}})
}

func methodOf(key string) string {
	for i := range key {
		if key[i] == '/' {
			return key[:i]
		}
	}
	return key
}

// dayLabels are the n UTC days up to and including today's.
func dayLabels(now time.Time, n int) []time.Time {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = today.AddDate(0, 0, i-n+1)
	}
	return out
}

func labels(days []time.Time) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = d.Format("Jan 2")
	}
	return out
}

func values(days []time.Time, counts []storage.DailyCount, key string) []float64 {
	out := make([]float64, len(days))
	for _, c := range counts {
		if c.Key != key {
			continue
		}
		for i, d := range days {
			if c.Day.Equal(d) {
				out[i] += float64(c.Count)
			}
		}
	}
	return out
}

func sum(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t
}

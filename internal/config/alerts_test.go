package config

import (
	"strings"
	"testing"
)

func TestAlertWebhooksAreChecked(t *testing.T) {
	c := Defaults()
	c.AlertWebhooks = []AlertWebhook{{URL: "ftp://hooks.example/"}, {URL: "https://ok.example/hook"}, {URL: "https://"}}
	err := c.Validate()
	if err == nil || strings.Count(err.Error(), "alert_webhooks:") != 2 {
		t.Fatalf("Validate = %v, want the two bad webhook URLs named", err)
	}
	_, err = Load(writeFile(t, "alert_webhooks:\n  - secret: x\n"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "has no url") {
		t.Fatalf("a webhook without a url: %v", err)
	}
	_, err = Load(writeFile(t, "alert_webhooks:\n  url: https://a.example/\n"), nil, nil)
	if err == nil {
		t.Fatal("a mapping instead of a list was accepted")
	}
}

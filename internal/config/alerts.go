package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AlertWebhook is one webhook that receives emergency-access alerts. In
// YAML: alert_webhooks: [{url: …, secret: …}]; KEYWARD_ALERT_WEBHOOKS and
// --alert-webhooks take comma-separated URLs (without secrets).
type AlertWebhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

const alertWebhooksKey = "alert_webhooks"

var alertWebhooksField = field{Key: alertWebhooksKey, Flag: "alert-webhooks", kind: kindString,
	Usage: "URLs (comma-separated) that receive a JSON POST for every emergency-access sign-in; in YAML a list of {url, secret}, a secret adding an HMAC-SHA256 signature header",
	set: func(c *Config, v string) error {
		c.AlertWebhooks = nil
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				c.AlertWebhooks = append(c.AlertWebhooks, AlertWebhook{URL: u})
			}
		}
		return nil
	},
	get: func(c Config) string {
		var urls []string
		for _, w := range c.AlertWebhooks {
			urls = append(urls, w.URL)
		}
		return strings.Join(urls, ",")
	},
}

// setAlertWebhooks reads the YAML list form of alert_webhooks.
func (c *Config) setAlertWebhooks(v *yaml.Node) error {
	var hooks []AlertWebhook
	if err := v.Decode(&hooks); err != nil {
		return fmt.Errorf("must be a list of {url: …, secret: …}: %w", err)
	}
	for i, h := range hooks {
		if strings.TrimSpace(h.URL) == "" {
			return fmt.Errorf("entry %d has no url", i+1)
		}
	}
	c.AlertWebhooks = hooks
	return nil
}

func checkAlertWebhooks(hooks []AlertWebhook) []error {
	var errs []error
	for _, h := range hooks {
		if err := checkHTTPURL(alertWebhooksKey, h.URL); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

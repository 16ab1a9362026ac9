package main

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/alerts"
	"github.com/keyward/keyward/internal/apperr"
)

func (a *app) alertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Emergency-access alerts: webhooks told of every emergency-account sign-in",
		Long: "Every sign-in (successful or not) of an emergency-access account raises an alert: a WARN log\n" +
			"line, the counter keyward_emergency_access_signins_total, and a JSON POST to each webhook in\n" +
			"alert_webhooks, retried from a queue in the database. See docs/conditional-access.md.",
	}
	cmd.AddCommand(a.alertsTestCmd())
	return cmd
}

func (a *app) alertsTestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Send a test alert to every configured webhook now",
		Long: "Queues a test alert for every webhook in alert_webhooks and sends it at once, printing each\n" +
			"webhook's answer. A webhook that fails is retried by the running server with backoff; the\n" +
			"command then exits with status 1.",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			var hooks []alerts.Webhook
			for _, w := range a.cfg.AlertWebhooks {
				hooks = append(hooks, alerts.Webhook{URL: w.URL, Secret: w.Secret})
			}
			if len(hooks) == 0 {
				return apperr.BadRequest("no webhooks are configured: set alert_webhooks in the configuration file or KEYWARD_ALERT_WEBHOOKS")
			}
			svc := &alerts.Service{Store: st, Webhooks: hooks, Logger: a.logger, Now: a.now}
			id, err := svc.QueueTest(cmd.Context(), cliActor.String())
			if err != nil {
				return err
			}
			if _, err := svc.Deliver(cmd.Context()); err != nil {
				return err
			}
			ds, err := st.ListAlertDeliveries(cmd.Context(), id)
			if err != nil {
				return err
			}
			failed := 0
			t := newTable(a.stdout, "WEBHOOK", "RESULT")
			for _, d := range ds {
				result := "delivered"
				if d.DeliveredAt == nil {
					failed++
					result = "failed: " + d.LastError + " (retried by the server)"
				}
				t.row(d.URL, result)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if failed > 0 {
				return apperr.New(http.StatusUnprocessableEntity, "webhookFailed", "%d of %d webhooks did not accept the test alert", failed, len(ds))
			}
			fmt.Fprintf(a.stdout, "Test alert %s delivered.\n", id)
			return nil
		}),
	}
	return cmd
}

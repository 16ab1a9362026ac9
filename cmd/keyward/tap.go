package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

// tapJSON is Graph's temporaryAccessPassAuthenticationMethod, as the admin
// API answers the request that creates one (the only time the pass is shown).
type tapJSON struct {
	ID                    string `json:"id"`
	TemporaryAccessPass   string `json:"temporaryAccessPass"`
	CreatedDateTime       string `json:"createdDateTime"`
	StartDateTime         string `json:"startDateTime"`
	LifetimeInMinutes     int    `json:"lifetimeInMinutes"`
	IsUsableOnce          bool   `json:"isUsableOnce"`
	IsUsable              bool   `json:"isUsable"`
	MethodUsabilityReason string `json:"methodUsabilityReason"`
}

func (a *app) userTAPCmd() *cobra.Command {
	var lifetime time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "tap ID|UPN [--lifetime 60m] [--once]",
		Short: "Issue a Temporary Access Pass and print it",
		Long: "Issue a Temporary Access Pass for a user, e.g. to set up their first passkey without\n" +
			"the web admin center. The pass is printed alone on standard output, so a script can\n" +
			"capture it: PASS=$(keyward user tap alice@example.com --once); the details go to\n" +
			"standard error. A user holds one pass at a time: a new pass replaces the old one.\n\n" +
			"--lifetime is whole minutes within the policy's limits (10m to 720h unless changed), and\n" +
			"--once makes it sign in once only (--once=false: any number of times until it expires);\n" +
			"without them the Temporary Access Pass policy's defaults apply (keyward policy tap show).\n" +
			"With --json it prints the pass as the admin API does when it creates one (with\n" +
			"temporaryAccessPass). The person signs in with it and adds a passkey (docs/api/signin.md, Temporary Access Pass).",
		Example: `  $ PASS=$(keyward user tap alice@example.com --once)
  Temporary Access Pass for alice@example.com (method 0622c517-…): signs in once, from 2026-11-25T16:23:02Z until 2026-11-25T17:23:02Z.
  It replaces any earlier pass of this user, and is shown only now: give it to the person securely.
  $ echo "$PASS"
  GP44QHZTRJ5T6GZ3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Flags not given leave the choice to the Temporary Access Pass
			// policy (keyward policy tap), as the admin API does.
			var req signin.TAPRequest
			if cmd.Flags().Changed("lifetime") {
				minutes, err := tapMinutes(lifetime)
				if err != nil {
					return err
				}
				req.LifetimeInMinutes = &minutes
			}
			if cmd.Flags().Changed("once") {
				req.IsUsableOnce = &once
			}
			return a.withStore(func(cmd *cobra.Command, args []string, st store) error {
				return a.issueTAP(cmd, st, args[0], req)
			})(cmd, args)
		},
	}
	cmd.Flags().DurationVar(&lifetime, "lifetime", 0,
		"how long the pass works, in whole minutes within the policy's limits (default: the policy's default lifetime)")
	cmd.Flags().BoolVar(&once, "once", false, "the pass signs in once only (default: as the policy says; keyward policy tap show)")
	return cmd
}

// tapMinutes checks --lifetime before anything is opened.
func tapMinutes(d time.Duration) (int, error) {
	if d < mfa.MinTAPLifetime || d > mfa.MaxTAPLifetime || d%time.Minute != 0 {
		return 0, fmt.Errorf("--lifetime must be whole minutes from 10m to 720h (30 days), not %s", d)
	}
	return int(d / time.Minute), nil
}

// issueTAP issues the pass through the same service as the admin API, so the
// rules, the replacement of an older pass and the audit record are the same.
func (a *app) issueTAP(cmd *cobra.Command, st store, idOrUPN string, req signin.TAPRequest) error {
	ctx := cmd.Context()
	dir := a.directory(st)
	u, err := dir.GetUser(ctx, idOrUPN)
	if err != nil {
		return err
	}
	passes := &signin.Passes{Store: st, Now: a.now}
	t, err := passes.Issue(ctx, cliActor, u, req)
	if err != nil {
		return err
	}
	usable, why := signin.TAPUsability(t.TemporaryAccessPass, a.now())
	if a.jsonOut {
		return writeJSON(a.stdout, tapJSON{ID: t.ID, TemporaryAccessPass: t.Pass, CreatedDateTime: timestamp(t.CreatedAt),
			StartDateTime: timestamp(t.StartAt), LifetimeInMinutes: int(t.ExpiresAt.Sub(t.StartAt) / time.Minute),
			IsUsableOnce: t.IsUsableOnce, IsUsable: usable, MethodUsabilityReason: why})
	}
	fmt.Fprintln(a.stdout, t.Pass)
	a.describeTAP(u, t.TemporaryAccessPass)
	return nil
}

// describeTAP tells the administrator, on standard error, what the pass does.
func (a *app) describeTAP(u storage.User, t storage.TemporaryAccessPass) {
	uses := "any number of times"
	if t.IsUsableOnce {
		uses = "once"
	}
	fmt.Fprintf(a.stderr, "Temporary Access Pass for %s (method %s): signs in %s, from %s until %s.\n",
		u.UserPrincipalName, t.ID, uses, timestamp(t.StartAt), timestamp(t.ExpiresAt))
	fmt.Fprintln(a.stderr, "It replaces any earlier pass of this user, and is shown only now: give it to the person securely.")
	if !u.AccountEnabled {
		fmt.Fprintf(a.stderr, "Note: the account is disabled; the pass works only after: keyward user enable %s\n", u.UserPrincipalName)
	}
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/signin"
)

func (a *app) policyTAPCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tap",
		Short: "The Temporary Access Pass authentication method policy",
		Long: "Show and change the Temporary Access Pass method policy: the lifetime a new pass gets\n" +
			"unless the issuer says otherwise, the shortest and longest lifetime allowed, whether a\n" +
			"pass signs in once by default, and its default length. The same policy as the admin\n" +
			"API's /api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass.",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print the policy as the admin API's JSON instead of a summary")
	cmd.AddCommand(a.policyTAPShowCmd(), a.policyTAPSetCmd())
	return cmd
}

func (a *app) policyTAPShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the Temporary Access Pass method policy",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			c, err := (&signin.Passes{Store: st, Now: a.now}).Config(cmd.Context())
			if err != nil {
				return err
			}
			return a.printTAPPolicy(c)
		}),
	}
}

// tapSetFlags are the flags of 'policy tap set'.
type tapSetFlags struct {
	defaultLifetime, minLifetime, maxLifetime time.Duration
	once                                      bool
	length                                    int
}

// tapFlagFields names the policy field each flag of 'policy tap set' changes.
var tapFlagFields = []struct{ flag, field string }{
	{"default-lifetime", "defaultLifetimeInMinutes"},
	{"minimum-lifetime", "minimumLifetimeInMinutes"},
	{"maximum-lifetime", "maximumLifetimeInMinutes"},
	{"once", "isUsableOnce"},
	{"default-length", "defaultLength"},
}

func (a *app) policyTAPSetCmd() *cobra.Command {
	var v tapSetFlags
	cmd := &cobra.Command{
		Use:   "set [flags]",
		Short: "Change the Temporary Access Pass method policy",
		Long: "Change the Temporary Access Pass method policy. Only what the flags name changes.\n" +
			"Lifetimes are whole minutes from 10m to 720h (30 days), and the default lies from the\n" +
			"minimum to the maximum; --once=false makes new passes reusable until they expire by\n" +
			"default; --default-length is 8 to 48 characters. Every problem is reported at once\n" +
			"and nothing changes unless all is well.",
		Example: "  keyward policy tap set --default-lifetime 8h --maximum-lifetime 24h --once",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			patch, err := tapPatch(cmd.Flags(), v)
			if err != nil {
				return err
			}
			return a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
				c, err := (&signin.Passes{Store: st, Now: a.now}).UpdateConfig(cmd.Context(), cliActor, patch)
				if err != nil {
					return flagNamesIn(err)
				}
				return a.printTAPPolicy(c)
			})(cmd, args)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&v.defaultLifetime, "default-lifetime", 0, "the lifetime of a new pass unless its issuer gives one (whole minutes, 10m to 720h)")
	f.DurationVar(&v.minLifetime, "minimum-lifetime", 0, "the shortest lifetime an issuer may give (whole minutes, 10m to 720h)")
	f.DurationVar(&v.maxLifetime, "maximum-lifetime", 0, "the longest lifetime an issuer may give (whole minutes, 10m to 720h)")
	f.BoolVar(&v.once, "once", false, "new passes sign in once only unless their issuer says otherwise (--once=false: any number of times)")
	f.IntVar(&v.length, "default-length", 0, "the number of characters of a new pass (8 to 48)")
	return cmd
}

// tapPatch turns the flags that were given into a PATCH document, checking
// before anything is opened that lifetimes are whole minutes.
func tapPatch(fs *pflag.FlagSet, v tapSetFlags) ([]byte, error) {
	doc := map[string]any{}
	var problems []string
	minutes := func(flag string, d time.Duration) any {
		if d%time.Minute != 0 || d <= 0 {
			problems = append(problems, fmt.Sprintf("--%s must be whole minutes, such as 90m or 8h, not %s", flag, d))
		}
		return int(d / time.Minute)
	}
	values := map[string]func() any{
		"default-lifetime": func() any { return minutes("default-lifetime", v.defaultLifetime) },
		"minimum-lifetime": func() any { return minutes("minimum-lifetime", v.minLifetime) },
		"maximum-lifetime": func() any { return minutes("maximum-lifetime", v.maxLifetime) },
		"once":             func() any { return v.once },
		"default-length":   func() any { return v.length },
	}
	for _, ff := range tapFlagFields {
		if fs.Changed(ff.flag) {
			doc[ff.field] = values[ff.flag]()
		}
	}
	if len(problems) > 0 {
		return nil, &problemsError{heading: "the Temporary Access Pass policy was not changed", problems: problems}
	}
	if len(doc) == 0 {
		return nil, fmt.Errorf("nothing to change: give --default-lifetime, --minimum-lifetime, --maximum-lifetime, --once or --default-length (see keyward policy tap set --help)")
	}
	return json.Marshal(doc)
}

// flagNamesIn rewrites the policy's field names in a refusal into the flags
// that set them, so the message names what the administrator typed.
func flagNamesIn(err error) error {
	ae, ok := errors.AsType[*apperr.Error](err)
	if !ok {
		return err
	}
	msg := ae.Message
	for _, ff := range tapFlagFields {
		label := "--" + ff.flag
		if strings.HasSuffix(ff.field, "InMinutes") {
			label += " (in minutes)"
		}
		msg = strings.ReplaceAll(msg, ff.field+":", label+":")
	}
	out := *ae
	out.Message = msg
	return &out
}

// printTAPPolicy prints the policy as a summary, or as the API's JSON.
func (a *app) printTAPPolicy(c policy.TAPConfig) error {
	if a.jsonOut {
		return writeJSON(a.stdout, c)
	}
	uses := "any number of times until it expires"
	if c.IsUsableOnce {
		uses = "once"
	}
	t := newIndented(a.stdout)
	t.row("Default lifetime:", lifetimeText(c.DefaultLifetimeInMinutes))
	t.row("Lifetime allowed:", lifetimeText(c.MinimumLifetimeInMinutes)+" to "+lifetimeText(c.MaximumLifetimeInMinutes))
	t.row("A new pass signs in:", uses+" (unless its issuer says otherwise)")
	t.row("Default length:", fmt.Sprintf("%d characters", c.DefaultLength))
	return t.flush()
}

// lifetimeText says a number of minutes as an administrator would.
func lifetimeText(m int) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case m%(24*60) == 0:
		return plural(m/(24*60), "day")
	case m%60 == 0:
		return plural(m/60, "hour")
	default:
		return plural(m, "minute")
	}
}

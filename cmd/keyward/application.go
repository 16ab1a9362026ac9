package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/storage"
)

func (a *app) appCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Register applications that sign in with OpenID Connect",
		Long: "Manage app registrations (OpenID Connect clients). APP is an application's object ID,\n" +
			"its appId (the client_id) or its display name. See docs/oidc.md.",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON (the admin API's field names) instead of a table")
	cmd.AddCommand(a.appAddCmd(), a.appListCmd(), a.appShowCmd(), a.appUpdateCmd(), a.appDeleteCmd(),
		a.appAddSecretCmd(), a.appRemoveSecretCmd())
	return cmd
}

func (a *app) apps(st store) *oidc.Apps { return &oidc.Apps{Store: st, Now: a.now} }

// appFlags are the settable fields of add and update.
type appFlags struct {
	name        string
	web, public []string
	groups      []string
	groupsClaim bool
	alg         string
	accessType  string
}

func (f *appFlags) define(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "display name")
	fs.StringSliceVar(&f.web, "web-redirect-uri", nil, "redirect URI of a web app (confidential client, has secrets); repeat or comma-separate")
	fs.StringSliceVar(&f.public, "public-redirect-uri", nil, "redirect URI of a public client (CLI, desktop, mobile; PKCE, no secret)")
	fs.StringSliceVar(&f.groups, "assigned-group", nil, "only members of these groups (ID or name) may sign in; \"\" clears")
	fs.BoolVar(&f.groupsClaim, "groups-claim", false, "put the user's group IDs in a groups claim (scope groups)")
	fs.StringVar(&f.alg, "signing-alg", "", "token signing algorithm: ES256 (default) or RS256")
	fs.StringVar(&f.accessType, "access-token-type", "", "access token format: opaque (default; checked at the userinfo and introspection endpoints) or jwt (signed like ID tokens)")
}

// input turns the flags the user set into an AppInput.
func (f *appFlags) input(ctx context.Context, cmd *cobra.Command, a *app, st store) (oidc.AppInput, error) {
	var in oidc.AppInput
	fs := cmd.Flags()
	if fs.Changed("name") {
		in.DisplayName = &f.name
	}
	if fs.Changed("web-redirect-uri") {
		in.WebRedirectURIs = &f.web
		if !fs.Changed("public-redirect-uri") {
			in.PublicClientRedirectURIs = &[]string{}
		}
	}
	if fs.Changed("public-redirect-uri") {
		in.PublicClientRedirectURIs = &f.public
		if !fs.Changed("web-redirect-uri") {
			in.WebRedirectURIs = &[]string{}
		}
	}
	if fs.Changed("assigned-group") {
		ids := []string{}
		for _, g := range f.groups {
			if g == "" {
				continue
			}
			grp, err := resolveGroup(ctx, a.directory(st), g)
			if err != nil {
				return in, err
			}
			ids = append(ids, grp.ID)
		}
		in.AssignedGroups = &ids
	}
	if fs.Changed("groups-claim") {
		in.GroupsClaim = &f.groupsClaim
	}
	if fs.Changed("signing-alg") {
		in.SigningAlg = &f.alg
	}
	if fs.Changed("access-token-type") {
		in.AccessTokenType = &f.accessType
	}
	return in, nil
}

func (a *app) appAddCmd() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "add --name NAME (--web-redirect-uri URI... | --public-redirect-uri URI...)",
		Short: "Register an application",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			in, err := f.input(cmd.Context(), cmd, a, st)
			if err != nil {
				return err
			}
			app, err := a.apps(st).Create(cmd.Context(), cliActor.String(), in)
			if err != nil {
				return err
			}
			return a.printApp(app)
		}),
	}
	f.define(cmd)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (a *app) appListCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List applications, ordered by display name",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			apps, err := allApps(cmd.Context(), a.apps(st), prefix)
			if err != nil {
				return err
			}
			if len(apps) == 0 && !a.jsonOut {
				fmt.Fprintln(a.stdout, "No applications.")
				return nil
			}
			if a.jsonOut {
				out := make([]server.ApplicationView, 0, len(apps))
				for _, x := range apps {
					out = append(out, server.NewApplicationView(x))
				}
				return writeJSON(a.stdout, out)
			}
			t := newTable(a.stdout, "ID", "APP ID (CLIENT ID)", "DISPLAY NAME", "TYPE", "REDIRECT URIS")
			for _, x := range apps {
				kind, uris := appKind(x)
				t.row(x.ID, x.AppID, x.DisplayName, kind, strings.Join(uris, " "))
			}
			return t.flush()
		}),
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only apps whose display name starts with this (case-insensitive)")
	return cmd
}

func appKind(x storage.Application) (string, []string) {
	if len(x.WebRedirectURIs) > 0 {
		return "web", x.WebRedirectURIs
	}
	return "public", x.PublicClientRedirectURIs
}

func allApps(ctx context.Context, svc *oidc.Apps, prefix string) ([]storage.Application, error) {
	return allPages(ctx, storage.Page{Prefix: prefix}, svc.List)
}

// withApp runs fn with the store open and the application that args[0]
// names (ID, appId or display name) loaded.
func (a *app) withApp(fn func(cmd *cobra.Command, args []string, st store, svc *oidc.Apps, x storage.Application) error) func(*cobra.Command, []string) error {
	return a.withStore(func(cmd *cobra.Command, args []string, st store) error {
		svc := a.apps(st)
		x, err := resolveApp(cmd.Context(), svc, args[0])
		if err != nil {
			return err
		}
		return fn(cmd, args, st, svc, x)
	})
}

// resolveApp finds an app by object ID, appId or display name.
func resolveApp(ctx context.Context, svc *oidc.Apps, ref string) (storage.Application, error) {
	x, err := svc.Get(ctx, ref)
	if err == nil {
		return x, nil
	}
	if s := apperr.As(err).Status; s != http.StatusNotFound && s != http.StatusBadRequest {
		return x, err
	}
	if x, err := svc.Store.GetApplicationByAppID(ctx, strings.ToLower(ref)); err == nil {
		return x, nil
	}
	apps, err := allApps(ctx, svc, ref)
	if err != nil {
		return storage.Application{}, err
	}
	var found []storage.Application
	for _, x := range apps {
		if strings.EqualFold(x.DisplayName, ref) {
			found = append(found, x)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return storage.Application{}, apperr.NotFound("no application with ID, appId or name %q (see keyward app list)", ref)
	}
	return storage.Application{}, apperr.BadRequest("%d applications are named %q; give the ID instead (see keyward app list)", len(found), ref)
}

func (a *app) appShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show APP",
		Short: "Show an application, with the issuer and endpoints to configure in it",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			x, err := resolveApp(cmd.Context(), a.apps(st), args[0])
			if err != nil {
				return err
			}
			return a.printApp(x)
		}),
	}
}

func (a *app) printApp(x storage.Application) error {
	if a.jsonOut {
		return writeJSON(a.stdout, server.NewApplicationView(x))
	}
	kind, uris := appKind(x)
	issuer := strings.TrimSuffix(a.cfg.PublicURL, "/")
	t := newTable(a.stdout, "FIELD", "VALUE")
	t.row("id", x.ID)
	t.row("displayName", x.DisplayName)
	t.row("appId (client_id)", x.AppID)
	t.row("type", kind)
	for _, u := range uris {
		t.row("redirectUri", u)
	}
	for _, p := range x.PasswordCredentials {
		t.row("secret", fmt.Sprintf("%s %q %s… until %s", p.KeyID, p.DisplayName, p.Hint, timestamp(p.EndAt)))
	}
	for _, g := range x.AssignedGroups {
		t.row("assignedGroup", g)
	}
	t.row("groupsClaim", fmt.Sprint(x.GroupsClaim))
	t.row("signingAlgorithm", x.SigningAlg)
	t.row("accessTokenType", x.AccessTokenType)
	t.row("issuer", issuer)
	t.row("discovery", issuer+oidc.DiscoveryPath)
	t.row("createdDateTime", timestamp(x.CreatedAt))
	return t.flush()
}

func (a *app) appUpdateCmd() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "update APP [--name NAME] [--web-redirect-uri URI...] [--public-redirect-uri URI...] [--assigned-group GROUP...] [--groups-claim=true|false] [--signing-alg ALG] [--access-token-type TYPE]",
		Short: "Change an application's settings",
		Args:  cobra.ExactArgs(1),
		RunE: a.withApp(func(cmd *cobra.Command, args []string, st store, svc *oidc.Apps, x storage.Application) error {
			in, err := f.input(cmd.Context(), cmd, a, st)
			if err != nil {
				return err
			}
			if in == (oidc.AppInput{}) {
				return apperr.BadRequest("nothing to change: give at least one of the flags (see keyward app update --help)")
			}
			x, err = svc.Update(cmd.Context(), cliActor.String(), x.ID, in)
			if err != nil {
				return err
			}
			return a.printApp(x)
		}),
	}
	f.define(cmd)
	return cmd
}

func (a *app) appDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete APP",
		Short: "Delete an application; every token issued to it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: a.withApp(func(cmd *cobra.Command, args []string, st store, svc *oidc.Apps, x storage.Application) error {
			if err := svc.Delete(cmd.Context(), cliActor.String(), x.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted application %s.\n", x.DisplayName)
			return nil
		}),
	}
}

func (a *app) appAddSecretCmd() *cobra.Command {
	var name string
	var valid time.Duration
	cmd := &cobra.Command{
		Use:   "add-secret APP [--name NAME] [--valid-for DURATION]",
		Short: "Add a client secret to a web app and print it (shown only this once)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withApp(func(cmd *cobra.Command, args []string, st store, svc *oidc.Apps, x storage.Application) error {
			var end *time.Time
			if cmd.Flags().Changed("valid-for") {
				e := a.now().Add(valid)
				end = &e
			}
			pc, text, err := svc.AddPassword(cmd.Context(), cliActor.String(), x.ID, name, end)
			if err != nil {
				return err
			}
			if a.jsonOut {
				j := server.NewPasswordView(pc)
				j.SecretText = text
				return writeJSON(a.stdout, j)
			}
			fmt.Fprintf(a.stdout, "Client secret for %s (client_id %s), valid until %s. It is shown only now:\n%s\n",
				x.DisplayName, x.AppID, timestamp(pc.EndAt), text)
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "a name for the secret (where it is used)")
	cmd.Flags().DurationVar(&valid, "valid-for", oidc.DefaultSecretLifetime, "how long the secret works")
	return cmd
}

func (a *app) appRemoveSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove-secret APP KEY_ID",
		Short: "Remove a client secret (see keyward app show for the key IDs)",
		Args:  cobra.ExactArgs(2),
		RunE: a.withApp(func(cmd *cobra.Command, args []string, st store, svc *oidc.Apps, x storage.Application) error {
			if err := svc.RemovePassword(cmd.Context(), cliActor.String(), x.ID, args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Removed the secret %s from %s.\n", args[1], x.DisplayName)
			return nil
		}),
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/storage"
)

func (a *app) accessCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Conditional access: policies, authentication strengths, named locations, what-if",
		Long: "Manage conditional access in Microsoft Graph's shapes (docs/conditional-access.md).\n" +
			"Documents are read from a JSON file (--from-file, - for standard input) in the admin API's\n" +
			"shape; set applies the file as a JSON merge patch. A policy, strength or location is named\n" +
			"by its ID or its display name.",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON (the admin API's field names) instead of a table")
	cmd.AddCommand(
		a.accessKindCmd(storage.AccessPolicy, "policy", "conditional access policies"),
		a.accessKindCmd(storage.AccessStrength, "strength", "authentication strengths (the three built-ins are read-only)"),
		a.accessKindCmd(storage.AccessLocation, "location", "named IP locations"),
		a.accessWhatIfCmd(), a.accessLintCmd())
	return cmd
}

func (a *app) conditionalAccess(st store) *conditionalaccess.Service {
	return &conditionalaccess.Service{Store: st, Now: a.now}
}

// accessDoc is one listed document: what the table shows of it.
type accessDoc struct {
	id, name, detail string
	value            any
}

func accessDocs(c conditionalaccess.Config, kind string) []accessDoc {
	var out []accessDoc
	switch kind {
	case storage.AccessPolicy:
		for _, p := range c.Policies {
			detail := p.State
			if g := p.GrantControls; g != nil && g.AuthenticationStrength != nil {
				detail += ", requires " + c.StrengthName(g.AuthenticationStrength.ID)
			} else if g != nil && len(g.BuiltInControls) > 0 {
				detail += ", " + strings.Join(g.BuiltInControls, " ")
			}
			out = append(out, accessDoc{p.ID, p.DisplayName, detail, p})
		}
	case storage.AccessStrength:
		for _, s := range c.AllStrengths() {
			detail := s.PolicyType + ": " + strings.Join(s.AllowedCombinations, "; ")
			if ids := s.AllowedAAGUIDs(); len(ids) > 0 {
				detail += " (keys " + strings.Join(ids, " ") + ")"
			}
			out = append(out, accessDoc{s.ID, s.DisplayName, detail, s})
		}
	case storage.AccessLocation:
		for _, l := range c.Locations {
			var ranges []string
			for _, r := range l.IPRanges {
				ranges = append(ranges, r.CIDRAddress)
			}
			detail := strings.Join(ranges, " ")
			if l.IsTrusted {
				detail = "trusted: " + detail
			}
			out = append(out, accessDoc{l.ID, l.DisplayName, detail, l})
		}
	}
	return out
}

// resolveAccess finds a document of kind by ID or display name.
func resolveAccess(ctx context.Context, svc *conditionalaccess.Service, kind, ref string) (accessDoc, error) {
	c, err := svc.Current(ctx)
	if err != nil {
		return accessDoc{}, err
	}
	var found []accessDoc
	for _, d := range accessDocs(c, kind) {
		if strings.EqualFold(d.id, ref) {
			return d, nil
		}
		if strings.EqualFold(d.name, ref) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return accessDoc{}, apperr.NotFound("no %s with ID or name %q (see keyward access %s list)", kindNoun(kind), ref, kindWord(kind))
	}
	return accessDoc{}, apperr.BadRequest("%d of them are named %q; give the ID instead", len(found), ref)
}

func kindWord(kind string) string {
	return map[string]string{storage.AccessPolicy: "policy", storage.AccessStrength: "strength", storage.AccessLocation: "location"}[kind]
}

func kindNoun(kind string) string {
	return map[string]string{storage.AccessPolicy: "conditional access policy", storage.AccessStrength: "authentication strength",
		storage.AccessLocation: "named location"}[kind]
}

func (a *app) readDoc(path string) ([]byte, error) {
	var r io.Reader = a.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return io.ReadAll(io.LimitReader(r, 4<<20))
}

func (a *app) accessKindCmd(kind, word, what string) *cobra.Command {
	cmd := &cobra.Command{Use: word, Short: "Manage " + what}
	list := &cobra.Command{
		Use:   "list",
		Short: "List " + what,
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			c, err := a.conditionalAccess(st).Current(cmd.Context())
			if err != nil {
				return err
			}
			docs := accessDocs(c, kind)
			if a.jsonOut {
				out := make([]any, 0, len(docs))
				for _, d := range docs {
					out = append(out, d.value)
				}
				return writeJSON(a.stdout, out)
			}
			if len(docs) == 0 {
				fmt.Fprintf(a.stdout, "No %s.\n", what)
				return nil
			}
			t := newTable(a.stdout, "ID", "DISPLAY NAME", "DETAILS")
			for _, d := range docs {
				t.row(d.id, d.name, d.detail)
			}
			return t.flush()
		}),
	}
	show := &cobra.Command{
		Use:   "show ID|NAME",
		Short: "Print one of them as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			d, err := resolveAccess(cmd.Context(), a.conditionalAccess(st), kind, args[0])
			if err != nil {
				return err
			}
			return writeJSON(a.stdout, d.value)
		}),
	}
	var file string
	var force bool
	save := func(update bool) func(cmd *cobra.Command, args []string, st store) error {
		return func(cmd *cobra.Command, args []string, st store) error {
			body, err := a.readDoc(file)
			if err != nil {
				return err
			}
			svc := a.conditionalAccess(st)
			opts := conditionalaccess.SaveOptions{Force: force}
			var d conditionalaccess.Document
			if update {
				cur, err := resolveAccess(cmd.Context(), svc, kind, args[0])
				if err != nil {
					return err
				}
				d, err = svc.Update(cmd.Context(), cliActor, kind, cur.id, body, opts)
				if err != nil {
					return err
				}
			} else if d, err = svc.Create(cmd.Context(), cliActor, kind, body, opts); err != nil {
				return err
			}
			return writeJSON(a.stdout, d.Value)
		}
	}
	add := &cobra.Command{
		Use:   "add --from-file FILE",
		Short: "Create one from a JSON document",
		Args:  cobra.NoArgs,
		RunE:  a.withStore(save(false)),
	}
	set := &cobra.Command{
		Use:   "set ID|NAME --from-file FILE",
		Short: "Change one: the file is a JSON merge patch (only the fields it names change)",
		Args:  cobra.ExactArgs(1),
		RunE:  a.withStore(save(true)),
	}
	for _, c := range []*cobra.Command{add, set} {
		c.Flags().StringVar(&file, "from-file", "", "JSON document to read (- = standard input)")
		_ = c.MarkFlagRequired("from-file")
		if kind == storage.AccessPolicy {
			c.Flags().BoolVar(&force, "force", false, "save even though the policy could block an emergency-access account (audited)")
		}
	}
	del := &cobra.Command{
		Use:   "delete ID|NAME",
		Short: "Delete one (a strength or location a policy uses is refused)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			svc := a.conditionalAccess(st)
			d, err := resolveAccess(cmd.Context(), svc, kind, args[0])
			if err != nil {
				return err
			}
			if err := svc.Delete(cmd.Context(), cliActor, kind, d.id); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted %s %q (%s).\n", kindNoun(kind), d.name, d.id)
			return nil
		}),
	}
	cmd.AddCommand(list, show, add, set, del)
	return cmd
}

func (a *app) accessWhatIfCmd() *cobra.Command {
	var w conditionalaccess.WhatIf
	var app string
	cmd := &cobra.Command{
		Use:   "what-if --user USER (--app APP | --user-action urn:user:registersecurityinfo) [--methods M,...] [--aaguid AAGUID] [--ip IP]",
		Short: "Show what the policies decide for a sign-in, without signing in",
		Long: "Evaluates the policies for a sign-in. USER is an ID or a user principal name; APP an\n" +
			"application's ID, appId or name, or one of Keyward's own: \"Keyward admin\", \"My security info\".\n" +
			"Methods are the strengths' vocabulary: fido2, password, softwareOath,\n" +
			"temporaryAccessPassOneTime, temporaryAccessPassMultiUse.",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			if app != "" {
				id, err := a.resolveAccessApp(cmd.Context(), st, app)
				if err != nil {
					return err
				}
				w.AppID = id
			}
			res, err := a.conditionalAccess(st).Evaluate(cmd.Context(), w)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return writeJSON(a.stdout, res)
			}
			fmt.Fprintf(a.stdout, "Decision: %s\n", res.Decision)
			for _, s := range res.RequiredStrengths {
				line := fmt.Sprintf("Requires: %s (%s)", s.DisplayName, s.ID)
				if len(s.AllowedAAGUIDs) > 0 {
					line += " with a key of model " + strings.Join(s.AllowedAAGUIDs, " or ")
				}
				fmt.Fprintln(a.stdout, line)
			}
			if res.Reauthenticate {
				fmt.Fprintln(a.stdout, "Requires: a new sign-in (sign-in frequency)")
			}
			if len(res.Policies) == 0 {
				fmt.Fprintln(a.stdout, "No policies.")
				return nil
			}
			fmt.Fprintln(a.stdout)
			t := newTable(a.stdout, "POLICY", "RESULT", "ID")
			for _, p := range res.Policies {
				t.row(p.DisplayName, p.Result, p.ID)
			}
			return t.flush()
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&w.UserID, "user", "", "the user (ID or user principal name)")
	fs.StringVar(&app, "app", "", "the application (ID, appId or name; \"Keyward admin\", \"My security info\")")
	fs.StringVar(&w.UserAction, "user-action", "", "a user action instead of an app: "+access.UserActionRegisterSecurityInfo)
	fs.StringSliceVar(&w.AuthenticationMethods, "methods", nil, "methods the session proved, comma-separated")
	fs.StringVar(&w.AAGUID, "aaguid", "", "the passkey's AAGUID (with --methods fido2)")
	fs.StringVar(&w.IPAddress, "ip", "", "the client's IP address")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

// resolveAccessApp turns an app reference into an appId: Keyward's own
// surfaces by name or ID, or a registered application.
func (a *app) resolveAccessApp(ctx context.Context, st store, ref string) (string, error) {
	for id, name := range access.BuiltInApps {
		if strings.EqualFold(ref, name) || strings.EqualFold(ref, id) {
			return id, nil
		}
	}
	x, err := resolveApp(ctx, a.apps(st), ref)
	if err != nil {
		return "", err
	}
	return x.AppID, nil
}

func (a *app) accessLintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lint",
		Short: "List every policy and strength that affects an emergency-access account",
		Long: "Lists each enabled or report-only policy whose users condition takes in an emergency-access\n" +
			"account, and each strength such a policy requires of one. Exits with status 3 when it\n" +
			"finds any, so scripts and monitoring can alert.",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			fs, err := a.conditionalAccess(st).Lint(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if err := writeJSON(a.stdout, fs); err != nil {
					return err
				}
			} else if len(fs) == 0 {
				fmt.Fprintln(a.stdout, "No policy or strength affects an emergency-access account.")
			} else {
				t := newTable(a.stdout, "KIND", "DISPLAY NAME", "EMERGENCY ACCOUNTS", "ID")
				for _, f := range fs {
					t.row(f.Kind, f.DisplayName, strings.Join(f.Accounts, ", "), f.ID)
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if len(fs) > 0 {
				return exitStatus(3)
			}
			return nil
		}),
	}
}

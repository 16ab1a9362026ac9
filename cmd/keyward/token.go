package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
)

// roles are the admin roles a token or a person may hold.
var roles = authz.Roles

const maxTokenNameLen = 64

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage admin API tokens",
		Long: "Manage the tokens scripts and other programs call the admin API with\n" +
			"(Authorization: Bearer <token>). A token is not a person: audit records name it\n" +
			"token:<name>.",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON instead of a table")
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var name, role string
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create an admin API token and print its secret",
		Long: "Create an admin API token. The secret is printed once, alone on standard output,\n" +
			"so a script can capture it: TOKEN=$(keyward token create --name ci --role reader).\n" +
			"Only its hash is stored. Names are unique. Roles: " + strings.Join(roles, ", ") + "\n" +
			"(docs/api/admin.md, Roles).",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			return a.createToken(cmd.Context(), st, strings.TrimSpace(name), role)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "unique name of the token, e.g. the script that uses it (required)")
	cmd.Flags().StringVar(&role, "role", "", "role: "+strings.Join(roles, ", ")+" (required)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func checkTokenName(name string) error {
	switch {
	case name == "":
		return errors.New("the token name must not be empty")
	case len(name) > maxTokenNameLen:
		return fmt.Errorf("the token name is %d bytes long; the limit is %d", len(name), maxTokenNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("the token name must not contain control characters")
	}
	return nil
}

func (a *app) createToken(ctx context.Context, st store, name, role string) error {
	if err := checkTokenName(name); err != nil {
		return err
	}
	if !slices.Contains(roles, role) {
		return fmt.Errorf("unknown role %q; use one of %s", role, strings.Join(roles, ", "))
	}
	sec := secret.New("kw_")
	tok := storage.APIToken{ID: newID(), Name: name, Role: role,
		SecretHash: secret.Hash(sec), CreatedAt: a.now().UTC()}
	err := a.audited(ctx, st, "token.create", "token:"+tok.ID, map[string]string{"name": name, "role": role},
		func(ctx context.Context) error { return st.CreateAPIToken(ctx, tok) })
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("a token named %q already exists; choose another name or revoke it first", name)
	}
	if err != nil {
		return fmt.Errorf("creating the token: %w", err)
	}
	fmt.Fprintln(a.stdout, sec)
	return nil
}

func (a *app) tokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List admin API tokens (never their secrets)",
		Long:  "List admin API tokens: ID, name, role, created, revoked. Secrets are never shown.",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			toks, err := st.ListAPITokens(cmd.Context())
			if err != nil {
				return fmt.Errorf("listing tokens: %w", err)
			}
			if a.jsonOut {
				out := make([]tokenJSON, 0, len(toks))
				for _, t := range toks {
					out = append(out, toTokenJSON(t))
				}
				return writeJSON(a.stdout, out)
			}
			if len(toks) == 0 {
				fmt.Fprintln(a.stdout, "No tokens. Create one with: keyward token create --name NAME --role ROLE")
				return nil
			}
			t := newTable(a.stdout, "ID", "NAME", "ROLE", "CREATED", "REVOKED")
			for _, tok := range toks {
				revoked := "-"
				if tok.RevokedAt != nil {
					revoked = timestamp(*tok.RevokedAt)
				}
				t.row(tok.ID, tok.Name, tok.Role, timestamp(tok.CreatedAt), revoked)
			}
			return t.flush()
		}),
	}
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke an admin API token; it stops working at once on every node",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			ctx := cmd.Context()
			err := a.audited(ctx, st, "token.revoke", "token:"+args[0], nil, func(ctx context.Context) error {
				return st.RevokeAPIToken(ctx, args[0], a.now().UTC())
			})
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("no token with ID or name %q (see keyward token list)", args[0])
			}
			if err != nil {
				return fmt.Errorf("revoking the token: %w", err)
			}
			fmt.Fprintf(a.stdout, "Revoked token %s.\n", args[0])
			return nil
		}),
	}
}

// audited makes a change from the CLI and its audit record in one
// transaction (storage.Record); directory changes are audited by the
// directory service itself.
func (a *app) audited(ctx context.Context, st storage.Storage, action, target string, details any, change func(ctx context.Context) error) error {
	e := storage.AuditEvent{ID: newID(), Time: a.now().UTC(), Actor: cliActor.String(), Action: action, Target: target}
	return storage.Record(ctx, st, e, details, change)
}

// cliActor is the CLI: the local operator, who may do everything (whoever
// runs these commands can open the database anyway). Audit records name it "cli".
var cliActor = authz.CLI()

// newID returns a time-ordered UUID (v7), like the directory's IDs, so new
// rows append to the primary-key index.
func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/storage"
)

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the OpenID Connect token signing keys",
		Long: "Manage the OpenID Connect token signing keys (one ES256, one RS256), which every node\n" +
			"shares through the database. See docs/oidc.md, Signing keys.",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON instead of a table")
	cmd.AddCommand(a.keysListCmd(), a.keysRotateCmd())
	return cmd
}

func (a *app) provider(st store) (*oidc.Provider, error) {
	kek, err := a.cfg.OIDCKeyEncryptionKeyBytes()
	if err != nil {
		return nil, err
	}
	return oidc.New(oidc.Config{Store: st, Now: a.now, Logger: a.logger,
		Issuer: strings.TrimSuffix(a.cfg.PublicURL, "/"), KeyEncryptionKey: kek})
}

type signingKeyJSON struct {
	ID              string  `json:"kid"`
	Alg             string  `json:"alg"`
	Encrypted       bool    `json:"encrypted"`
	CreatedDateTime string  `json:"createdDateTime"`
	SignFrom        string  `json:"signFromDateTime"`
	Retired         *string `json:"retiredDateTime"`
	Expires         *string `json:"expiresDateTime"`
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}

func (a *app) printKeys(keys []storage.SigningKey) error {
	if a.jsonOut {
		out := make([]signingKeyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, signingKeyJSON{ID: k.ID, Alg: k.Alg, Encrypted: k.Sealed, CreatedDateTime: timestamp(k.CreatedAt),
				SignFrom: timestamp(k.SignFrom), Retired: optTime(k.RetiredAt), Expires: optTime(k.ExpiresAt)})
		}
		return writeJSON(a.stdout, out)
	}
	t := newTable(a.stdout, "KID", "ALG", "ENCRYPTED", "SIGNS FROM", "RETIRED", "LEAVES THE KEY SET")
	orDash := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	for _, k := range keys {
		t.row(k.ID, k.Alg, fmt.Sprint(k.Sealed), timestamp(k.SignFrom), orDash(optTime(k.RetiredAt)), orDash(optTime(k.ExpiresAt)))
	}
	return t.flush()
}

func (a *app) keysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the signing keys (created on first use)",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			p, err := a.provider(st)
			if err != nil {
				return err
			}
			keys, err := p.SigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			return a.printKeys(keys)
		}),
	}
}

func (a *app) keysRotateCmd() *cobra.Command {
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate [--overlap 10m]",
		Short: "Publish new signing keys, sign with them after the overlap, retire the old ones",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			p, err := a.provider(st)
			if err != nil {
				return err
			}
			made, err := p.RotateKeys(cmd.Context(), overlap)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printKeys(made)
			}
			fmt.Fprintf(a.stdout, "Published new signing keys; tokens are signed with them from %s.\n", timestamp(made[0].SignFrom))
			fmt.Fprintln(a.stdout, "The previous keys stay in the key set until the tokens they signed have expired.")
			return a.printKeys(made)
		}),
	}
	cmd.Flags().DurationVar(&overlap, "overlap", 10*time.Minute,
		"how long the new keys are only published before they sign (apps refresh their copy of the key set)")
	return cmd
}

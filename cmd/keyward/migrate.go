package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database schema migrations and print the schema version",
		Long: "Apply the database schema migrations embedded in this binary. 'keyward serve'\n" +
			"does this at every start; run it alone to upgrade the schema before rolling out nodes.\n" +
			"It prints 'database schema at version N (latest N)'.",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			cur, latest, err := st.MigrationVersion(cmd.Context())
			if err != nil {
				return fmt.Errorf("reading the schema version: %w", err)
			}
			fmt.Fprintf(a.stdout, "database schema at version %d (latest %d)\n", cur, latest)
			return nil
		}),
	}
}

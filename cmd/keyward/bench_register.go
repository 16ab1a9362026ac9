package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/bench"
)

// registerUsersDefault is --users for --scenario register when not given:
// enough users a level that each holds a few keys, as people do, rather
// than hundreds that every creationOptions would list.
const registerUsersDefault = 1000

// runRegisterBench is keyward bench --scenario register: passkey
// registration with packed full attestation checked against an MDS blob
// the run makes, on a server it starts trusting that blob's root.
func (a *app) runRegisterBench(cmd *cobra.Command, o *benchOptions) error {
	if !cmd.Flags().Changed("users") {
		o.Users = registerUsersDefault
	}
	if err := o.resolve(cmd); err != nil {
		return err
	}
	if o.URL != "" {
		return &problemsError{heading: "keyward bench cannot run", problems: []string{
			"--url: not with --scenario register, which starts its own server trusting the MDS root it makes for the run"}}
	}
	r := &bench.Runner{Options: o.Options, Env: a.env, Progress: a.progress,
		CreateToken: a.benchToken, RevokeToken: a.revokeBenchToken, ImportMDS: a.benchImportMDS}
	rep, err := r.RunRegister(cmd.Context())
	if rep == nil {
		return err
	}
	var perr error
	if o.json {
		perr = writeJSON(a.stdout, rep)
	} else {
		perr = rep.WriteText(a.stdout)
	}
	if err = errors.Join(perr, err); err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d registrations failed; the report lists their errors", rep.Failed, rep.Failed+rep.Succeeded)
	}
	return nil
}

// benchImportMDS imports the register scenario's MDS blob with `keyward
// mds import` run in-process against the child's database, before the
// child starts; env names the database and the run's MDS root.
func (a *app) benchImportMDS(ctx context.Context, env []string, blobFile string) error {
	var out, errOut strings.Builder
	env = append(env, "KEYWARD_LOG_LEVEL=warn")
	if code := run(ctx, []string{"mds", "import", blobFile}, env, nil, &out, &errOut); code != 0 {
		return fmt.Errorf("importing the benchmark's MDS blob (a --database-url database must not hold a newer one): %s", strings.TrimSpace(errOut.String()))
	}
	return nil
}

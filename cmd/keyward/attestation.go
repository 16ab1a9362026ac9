package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/policy"
)

// exitRefused is attestation inspect's exit status for a refused key, so a
// script can tell "the key would be refused" (2) from "could not tell" (1).
const exitRefused = exitStatus(2)

func (a *app) attestationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attestation",
		Short: "Examine WebAuthn attestations offline",
	}
	cmd.AddCommand(a.attestationInspectCmd())
	return cmd
}

type inspectFlags struct {
	response, challenge, origin, rpID string
	allow, block                      []string
	enforceAttestation                bool
}

func (a *app) attestationInspectCmd() *cobra.Command {
	var v inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect --response FILE --challenge B64URL --origin URL --rp-id ID",
		Short: "Verify a passkey registration response and judge it against a passkey profile",
		Long: "Verify a WebAuthn registration response (the JSON PublicKeyCredential.toJSON() gives:\n" +
			"id, rawId, type, response.clientDataJSON, response.attestationObject) as a registration\n" +
			"would, look its model up in the stored FIDO Metadata Service blob, and judge it against\n" +
			"the stored policy's default passkey profile, or against a profile made of --allow,\n" +
			"--block and --enforce-attestation when any of them is given. Nothing is stored.\n\n" +
			"Prints JSON. Exit status: 0 allowed, 2 refused (the reasons say why), 1 error.\n" +
			"See docs/mds.md, Inspecting a registration offline.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.loadConfig(cmd); err != nil {
				return err
			}
			return a.inspect(cmd, v)
		},
	}
	f := cmd.Flags()
	f.StringVar(&v.response, "response", "", "file with the registration response JSON (required)")
	f.StringVar(&v.challenge, "challenge", "", "the challenge the server sent, base64url (required)")
	f.StringVar(&v.origin, "origin", "", "the origin the browser reported, e.g. https://id.example.com (required)")
	f.StringVar(&v.rpID, "rp-id", "", "the relying party ID, e.g. id.example.com (required)")
	f.StringArrayVar(&v.allow, "allow", nil, "judge against an allow list of this AAGUID (repeatable)")
	f.StringArrayVar(&v.block, "block", nil, "judge against a block list of this AAGUID (repeatable)")
	f.BoolVar(&v.enforceAttestation, "enforce-attestation", false, "require attestation verified against the FIDO Metadata Service")
	mustAddFlags(f, "mds-roots")
	for _, name := range []string{"response", "challenge", "origin", "rp-id"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) inspect(cmd *cobra.Command, v inspectFlags) error {
	ctx := cmd.Context()
	response, err := os.ReadFile(v.response)
	if err != nil {
		return fmt.Errorf("reading the registration response: %w", err)
	}
	fromFlags := cmd.Flags().Changed("allow") || cmd.Flags().Changed("block") || cmd.Flags().Changed("enforce-attestation")
	var profile policy.PasskeyProfile
	if fromFlags {
		if profile, err = profileFromFlags(v); err != nil {
			return err
		}
	}
	st, err := a.openForReading(ctx)
	if err != nil {
		fmt.Fprintf(a.stderr, "keyward: note: %v; judging without the stored policy and FIDO metadata\n", err)
	} else {
		defer st.Close()
	}
	if !fromFlags {
		if profile, err = a.storedDefaultProfile(ctx, st); err != nil {
			return err
		}
	}
	blob := a.storedBlob(ctx, st)
	res, err := passkey.Inspect(passkey.InspectInput{
		Response: response, Challenge: v.challenge, Origin: v.origin, RPID: v.rpID,
		Profile: profile, Metadata: blob, Now: a.now(),
	})
	if err != nil {
		return err
	}
	if err := writeJSON(a.stdout, res); err != nil {
		return err
	}
	if res.Verdict != "allowed" {
		return exitRefused
	}
	return nil
}

// profileFromFlags builds the profile to judge against: the default profile
// with the flags' key restrictions and attestation enforcement.
func profileFromFlags(v inspectFlags) (policy.PasskeyProfile, error) {
	p := policy.DefaultProfile()
	if v.enforceAttestation {
		p.AttestationEnforcement = policy.AttestationRegistrationOnly
	}
	var problems []string
	normalize := func(flag string, in []string) []string {
		var out []string
		for _, s := range in {
			n, err := policy.NormalizeAAGUID(s)
			if err != nil {
				problems = append(problems, fmt.Sprintf("--%s: %v", flag, err))
				continue
			}
			out = append(out, n)
		}
		return out
	}
	allow, block := normalize("allow", v.allow), normalize("block", v.block)
	switch {
	case len(v.allow) > 0 && len(v.block) > 0:
		problems = append(problems, "--allow and --block cannot be used together: a profile either allows or blocks the key models it lists")
	case len(v.allow) > 0:
		p.KeyRestrictions = policy.KeyRestrictions{IsEnforced: true, EnforcementType: policy.EnforcementAllow, AAGUIDs: allow}
	case len(v.block) > 0:
		p.KeyRestrictions = policy.KeyRestrictions{IsEnforced: true, EnforcementType: policy.EnforcementBlock, AAGUIDs: block}
	}
	if len(problems) > 0 {
		return p, &problemsError{heading: "cannot build the passkey profile to judge against", problems: problems}
	}
	return p, nil
}

// openForReading opens the configured database as it is: it neither creates
// a SQLite file nor migrates, because inspecting must not change anything.
func (a *app) openForReading(ctx context.Context) (store, error) {
	if !a.cfg.UsesPostgres() {
		if _, err := os.Stat(a.cfg.SQLitePath()); err != nil {
			return nil, fmt.Errorf("no database at %s", a.cfg.SQLitePath())
		}
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, fmt.Errorf("the database cannot be opened (%w)", err)
	}
	cur, latest, err := st.MigrationVersion(ctx)
	if err == nil && cur != latest {
		err = fmt.Errorf("its schema is at version %d, not %d; run keyward migrate", cur, latest)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("the database cannot be read (%w)", err)
	}
	return st, nil
}

// storedDefaultProfile is the stored policy's default profile, or a new
// install's when there is no database (st nil).
func (a *app) storedDefaultProfile(ctx context.Context, st store) (policy.PasskeyProfile, error) {
	if st == nil {
		return policy.DefaultProfile(), nil
	}
	f, err := a.policies(st).Fido2(ctx)
	if err != nil {
		return policy.PasskeyProfile{}, fmt.Errorf("reading the passkey (FIDO2) policy: %w", err)
	}
	p, ok := f.Profile(policy.DefaultProfileID)
	if !ok {
		return policy.PasskeyProfile{}, errors.New("the stored passkey (FIDO2) policy has no default profile")
	}
	return p, nil
}

// storedBlob is the stored MDS blob, or nil, with a note saying why, when
// there is none or it cannot be used: then no key counts as attested.
func (a *app) storedBlob(ctx context.Context, st store) *mds.Blob {
	if st == nil {
		return nil
	}
	b, err := a.mdsService(st, nil).Current(ctx)
	if err != nil {
		fmt.Fprintf(a.stderr, "keyward: note: %v; judging without FIDO metadata\n", storedBlobError(err))
		return nil
	}
	return b
}

package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/compromise"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

func (a *app) mdsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mds",
		Short: "Import, download and inspect the FIDO Metadata Service (MDS3) blob",
		Long: "The FIDO Metadata Service blob lists authenticator models with their attestation\n" +
			"roots and status reports; Keyward uses it to tell attested keys and model names.\n" +
			"The verified blob is stored in the database, shared by every node. Blobs are\n" +
			"verified against the FIDO Alliance's production root, or the roots named by\n" +
			"mds_roots (--mds-roots) for a private metadata service. See docs/mds.md.",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON instead of a summary")
	mustAddFlags(cmd.PersistentFlags(), "mds-url", "mds-roots")
	cmd.AddCommand(a.mdsImportCmd(), a.mdsUpdateCmd(), a.mdsStatusCmd(), a.mdsShowCmd(), a.mdsImpactCmd())
	return cmd
}

// mdsService is the MDS service on st, trusting roots (PEM texts), or the
// configured mds_roots when roots is nil. It logs nothing: the commands
// print what matters, warnings included.
func (a *app) mdsService(st storage.Storage, roots []string) *mds.Service {
	if roots == nil {
		roots, _ = a.cfg.ReadMDSRoots() // checked by Validate when the configuration was loaded
	}
	svc := &mds.Service{Store: st, Options: mds.Options{Roots: roots}, URL: a.cfg.MDSURL, Now: a.now}
	// A newer blob is checked against the registered passkeys here as in
	// serve: each one of a newly distrusted model gets its audit record.
	svc.OnNewBlob = (&compromise.Service{Store: st, Metadata: svc, Now: a.now}).BlobChanged
	return svc
}

func (a *app) mdsImpactCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "impact",
		Short: "List the registered passkeys whose model MDS reports as revoked or compromised, and their users",
		Long: "List every registered passkey whose model the stored MDS blob reports with an\n" +
			"undesired status (REVOKED, ATTESTATION_KEY_COMPROMISE, USER_VERIFICATION_BYPASS,\n" +
			"USER_KEY_REMOTE_COMPROMISE, USER_KEY_PHYSICAL_COMPROMISE), with its user, model and\n" +
			"the reason. U2F keys are matched by their attestation certificate key identifier.\n" +
			"The passkey profile switch blockCompromisedModels refuses their sign-in.\n" +
			"See docs/passkey-lifecycle.md.",
		Example: "  keyward mds impact\n  keyward mds impact --json",
		Args:    cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			affected, err := (&compromise.Service{Store: st, Metadata: a.mdsService(st, nil), Now: a.now}).Impact(cmd.Context())
			if err != nil {
				return storedBlobError(err)
			}
			users := map[string]bool{}
			for _, x := range affected {
				users[x.UserID] = true
			}
			if a.jsonOut {
				return writeJSON(a.stdout, map[string]any{"users": len(users), "value": affected})
			}
			if len(affected) == 0 {
				fmt.Fprintln(a.stdout, "No registered passkey is of a model the stored MDS blob reports as revoked or compromised.")
				return nil
			}
			fmt.Fprintf(a.stdout, "%s of %s %s of models MDS reports as revoked or compromised:\n\n",
				count(len(affected), "passkey", "passkeys"), count(len(users), "user", "users"), plural(len(affected), "is", "are"))
			t := newTable(a.stdout, "USER", "PASSKEY", "MODEL", "REASON")
			for _, x := range affected {
				t.row(x.UserPrincipalName, x.MethodName, x.Model, x.Reason)
			}
			return t.flush()
		}),
	}
}

func (a *app) mdsImportCmd() *cobra.Command {
	var rootFiles []string
	cmd := &cobra.Command{
		Use:   "import FILE [--root CERT_FILE]",
		Short: "Verify an MDS blob file and store it as the current blob",
		Long: "Verify an MDS3 blob (the JWT as downloaded from the metadata service) and store it.\n" +
			"It must chain to the FIDO production root, to the mds_roots, or, with --root, to\n" +
			"the root certificate in CERT_FILE (PEM), and be newer than the stored blob.\n" +
			"A blob imported with --root is trusted later only when mds_roots names that root.",
		Args: cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("reading the MDS blob: %w", err)
			}
			var roots []string
			for _, f := range rootFiles {
				pemText, err := config.ReadPEMCertificates(f)
				if err != nil {
					return fmt.Errorf("--root: %w", err)
				}
				roots = append(roots, pemText)
			}
			source, err := filepath.Abs(args[0])
			if err != nil {
				source = args[0]
			}
			b, err := a.mdsService(st, roots).Import(cmd.Context(), raw, source)
			if err != nil {
				return err
			}
			a.noteUnconfiguredRoots(rootFiles, roots)
			fmt.Fprintf(a.stdout, "Imported MDS blob number %d.\n", b.Number)
			return a.printBlob(b)
		}),
	}
	cmd.Flags().StringArrayVar(&rootFiles, "root", nil, "verify against the root certificate in this PEM file instead (repeatable)")
	return cmd
}

// noteUnconfiguredRoots warns when a blob was verified against a --root that
// mds_roots does not name: serve and the other commands would not trust it.
func (a *app) noteUnconfiguredRoots(files, roots []string) {
	configured, _ := a.cfg.ReadMDSRoots()
	known := pemCertificates(strings.Join(configured, "\n"))
	for i, f := range files {
		for _, c := range pemCertificates(roots[i]) {
			if !containsCert(known, c) {
				fmt.Fprintf(a.stderr, "keyward: note: mds_roots does not name the root in %s, so keyward serve and the other commands "+
					"will not trust the stored blob; set mds_roots to that file (KEYWARD_MDS_ROOTS or --mds-roots)\n", f)
				break
			}
		}
	}
}

func pemCertificates(text string) []*x509.Certificate {
	var out []*x509.Certificate
	for rest := []byte(text); ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil && block.Type == "CERTIFICATE" {
			out = append(out, c)
		}
	}
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, k := range list {
		if bytes.Equal(k.Raw, c.Raw) {
			return true
		}
	}
	return false
}

func (a *app) mdsUpdateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "update",
		Short: "Download the MDS blob from mds_url, verify it and store it",
		Long: "Download the MDS blob from mds_url (--mds-url), verify it against the trusted roots\n" +
			"and store it when it is newer. On any failure the last good blob stays in use and\n" +
			"the command exits with status 1.",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			ctx := cmd.Context()
			before, err := st.MDSBlobNumber(ctx)
			if err != nil {
				return fmt.Errorf("reading the stored MDS blob number: %w", err)
			}
			b, err := a.mdsService(st, nil).Update(ctx)
			if err != nil {
				return updateError(err)
			}
			if b.Number == before {
				fmt.Fprintf(a.stdout, "%s has nothing newer than the stored MDS blob number %d.\n", a.cfg.MDSURL, b.Number)
			} else {
				fmt.Fprintf(a.stdout, "Updated the MDS blob to number %d.\n", b.Number)
			}
			return a.printBlob(b)
		}),
	}
}

// updateError keeps Update's message, which says what failed and which blob
// is kept, and adds the cause when it is not one a person was meant to see:
// a server hides it in its log, but here the operator is the reader.
func updateError(err error) error {
	ae, ok := errors.AsType[*apperr.Error](err)
	if !ok {
		return err
	}
	if _, inner := errors.AsType[*apperr.Error](ae.Err); ae.Err != nil && !inner {
		return fmt.Errorf("%s (cause: %w)", ae.Message, ae.Err)
	}
	return errors.New(ae.Message)
}

func (a *app) mdsStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the stored MDS blob: number, nextUpdate, entries, source and warnings",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			b, err := a.mdsService(st, nil).Current(cmd.Context())
			if err != nil {
				return storedBlobError(err)
			}
			if b == nil {
				if a.jsonOut {
					return writeJSON(a.stdout, mdsStatusJSON{Imported: false, Warnings: []string{}})
				}
				fmt.Fprintln(a.stdout, "No MDS blob imported. Import one with keyward mds import FILE, or download it with keyward mds update.")
				return nil
			}
			return a.printBlob(b)
		}),
	}
}

// storedBlobError explains the usual reason a blob that verified at import
// does not verify when read back.
func storedBlobError(err error) error {
	return fmt.Errorf("%w (a blob imported with --root CERT is trusted only when mds_roots names CERT)", err)
}

func (a *app) mdsShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show AAGUID",
		Short: "Show one authenticator model of the MDS blob: name, status reports and attestation roots",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			id, err := policy.NormalizeAAGUID(args[0])
			if err != nil {
				return err
			}
			b, err := a.mdsService(st, nil).Current(cmd.Context())
			if err != nil {
				return storedBlobError(err)
			}
			if b == nil {
				return errors.New("no MDS blob is imported; import one with keyward mds import FILE or keyward mds update")
			}
			e, ok := b.Lookup(id)
			if !ok {
				return fmt.Errorf("AAGUID %s is not in the MDS blob (number %d, %d FIDO2 models)", id, b.Number, len(b.AAGUIDs()))
			}
			return a.printEntry(b, e)
		}),
	}
}

func (a *app) printBlob(b *mds.Blob) error {
	j := toMDSStatusJSON(b, a.now())
	if a.jsonOut {
		return writeJSON(a.stdout, j)
	}
	next := j.NextUpdate
	if j.Stale {
		next += " (passed: run keyward mds update, or import a newer blob)"
	}
	pairs := []string{
		"Number", fmt.Sprint(j.Number),
		"Next update", next,
		"Entries", fmt.Sprintf("%d (%d FIDO2 models by AAGUID)", j.Entries, j.FIDO2Models),
		"Imported at", j.ImportedDateTime,
		"Source", j.Source,
		"Signed by", j.Signer,
		"Warnings", fmt.Sprint(len(j.Warnings)),
	}
	for _, w := range j.Warnings {
		pairs = append(pairs, "Warning", w)
	}
	return details(a.stdout, pairs...)
}

func (a *app) printEntry(b *mds.Blob, e mds.Entry) error {
	j := toMDSEntryJSON(b, e, a.now())
	if a.jsonOut {
		return writeJSON(a.stdout, j)
	}
	trusted := "yes: no status report in effect marks this model untrustworthy"
	if j.Undesired {
		trusted = "no: " + j.UndesiredReason + "; its keys are never attested"
	}
	err := details(a.stdout,
		"AAGUID", j.AAGUID,
		"Model", j.Description,
		"Authenticator version", fmt.Sprint(j.AuthenticatorVersion),
		"Attestation types", strings.Join(j.AttestationTypes, ", "),
		"Last status change", orDash(j.TimeOfLastStatusChange),
		"Trusted", trusted,
		"MDS blob", fmt.Sprintf("number %d", j.BlobNumber))
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "\nStatus reports:")
	t := newTable(a.stdout, "  STATUS", "EFFECTIVE", "SUNSET", "CERTIFICATION", "CERTIFICATE")
	for _, r := range j.StatusReports {
		t.row("  "+r.Status, orDash(r.EffectiveDate), orDash(r.SunsetDate),
			orDash(strings.TrimSpace(r.CertificationDescriptor+" "+r.CertificateNumber)), orDash(r.CertificateSubject))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "\nAttestation roots:")
	if len(j.AttestationRoots) == 0 {
		fmt.Fprintln(a.stdout, "  none listed (no key of this model can be attested)")
	}
	for _, c := range j.AttestationRoots {
		validity := "valid from " + c.NotBefore + " to " + c.NotAfter
		if c.Expired {
			validity += " (expired)"
		}
		fmt.Fprintf(a.stdout, "  %s\n    %s\n    SHA-256 %s\n", c.Subject, validity, c.SHA256)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// date formats an MDS date ("" when not given).
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// count is n followed by the noun's singular or plural form.
func count(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}

// plural is one when n is 1 and many otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

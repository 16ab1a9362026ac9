package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/reports"
	"github.com/keyward/keyward/internal/storage"
)

func (a *app) policyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Show and change authentication method policies",
	}
	cmd.AddCommand(a.policyPasskeyCmd(), a.policyTAPCmd())
	return cmd
}

func (a *app) policyPasskeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "passkey",
		Short: "The passkey (FIDO2) authentication method policy",
		Long: "Show and change the passkey (FIDO2) method policy: who may use passkeys, whether\n" +
			"they may register their own, and the passkey profiles (passkey types, attestation,\n" +
			"allowed or blocked key models). The same policy as the admin API's\n" +
			"/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2;\n" +
			"docs/passkey-policy.md describes it, with examples of both commands.",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print the policy as the admin API's JSON instead of a summary")
	cmd.AddCommand(a.policyPasskeyShowCmd(), a.policyPasskeySetCmd())
	return cmd
}

func (a *app) policies(st store) *methodpolicy.Service {
	return &methodpolicy.Service{Store: st, Now: a.now, Metadata: a.mdsService(st, nil)}
}

func (a *app) policyPasskeyShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the passkey (FIDO2) method policy",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			f, err := a.policies(st).Fido2(cmd.Context())
			if err != nil {
				return err
			}
			return a.printFido2(cmd.Context(), st, f)
		}),
	}
}

// passkeySetFlags are the flags of 'policy passkey set'.
type passkeySetFlags struct {
	state, profile, passkeyTypes, keyRestrictions, fromFile      string
	selfService, includeAll, clearExclusions, enforceAttestation bool
	includeGroups, excludeGroups                                 []string
	aaguids, addAAGUIDs, removeAAGUIDs, addProviders             []string
	dryRun                                                       bool
	force                                                        bool
}

// policyFlags are the flags of 'policy passkey set' other than the profile
// flags (the inherited ones, such as --data-dir, change nothing).
var policyFlags = []string{"state", "self-service", "include-all", "include-group", "exclude-group",
	"clear-exclusions", "profile", "from-file"}

// profileFlags change one passkey profile; --profile says which.
var profileFlags = []string{"passkey-types", "enforce-attestation", "key-restrictions",
	"aaguid", "add-aaguid", "remove-aaguid", "add-provider"}

func (a *app) policyPasskeySetCmd() *cobra.Command {
	var v passkeySetFlags
	cmd := &cobra.Command{
		Use:   "set [flags]",
		Short: "Change the passkey (FIDO2) method policy",
		Long: "Change the passkey (FIDO2) method policy. Only what the flags name changes.\n\n" +
			"--include-all and --include-group replace the include targets with the ones given;\n" +
			"--exclude-group adds to the exclusions (--clear-exclusions first empties them).\n" +
			"Groups are given by ID or display name. The profile flags change the profile named\n" +
			"by --profile (ID or name; default: the default profile). --aaguid replaces the key\n" +
			"restriction list; --add-aaguid, --add-provider and --remove-aaguid edit it.\n" +
			"--from-file FILE applies a PATCH document as the admin API takes it, alone.\n\n" +
			"Every problem is reported at once and nothing changes unless all is well.",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			ctx := cmd.Context()
			if v.dryRun {
				return a.passkeyDryRun(ctx, st, cmd.Flags(), v)
			}
			// The patch is built from the policy inside the update, so an edit
			// of a list (--add-aaguid, --exclude-group) made at the same time
			// by another administrator is kept.
			next, err := a.policies(st).UpdateFido2With(ctx, cliActor, v.force, func(cur policy.Fido2) ([]byte, error) {
				return a.passkeyPatch(ctx, st, cur, cmd.Flags(), v)
			})
			if ve, ok := errors.AsType[*policy.ValidationError](err); ok {
				return &problemsError{heading: policyNotChanged, problems: ve.Problems}
			}
			if err != nil {
				return err
			}
			return a.printFido2(ctx, st, next)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&v.state, "state", "", "enabled or disabled: whether passkeys can be used at all")
	f.BoolVar(&v.selfService, "self-service", true, "whether users may register their own passkeys (--self-service=false: only admins)")
	f.BoolVar(&v.includeAll, "include-all", false, "include all users")
	f.StringArrayVar(&v.includeGroups, "include-group", nil, "include a group, by ID or name (repeatable)")
	f.StringArrayVar(&v.excludeGroups, "exclude-group", nil, "exclude a group, by ID or name (repeatable); exclusion beats inclusion")
	f.BoolVar(&v.clearExclusions, "clear-exclusions", false, "remove every exclusion (before --exclude-group)")
	f.StringVar(&v.profile, "profile", policy.DefaultProfileID, "the passkey profile the profile flags change, by ID or name")
	f.StringVar(&v.passkeyTypes, "passkey-types", "", "passkey types the profile allows: deviceBound, synced or deviceBound,synced")
	f.BoolVar(&v.enforceAttestation, "enforce-attestation", false, "require attestation verified against the FIDO Metadata Service at registration")
	f.StringVar(&v.keyRestrictions, "key-restrictions", "", "off, allow (only the listed AAGUIDs) or block (all but the listed AAGUIDs)")
	f.StringArrayVar(&v.aaguids, "aaguid", nil, "set the key restriction list to these AAGUIDs (repeatable)")
	f.StringArrayVar(&v.addAAGUIDs, "add-aaguid", nil, "add an AAGUID to the key restriction list (repeatable)")
	f.StringArrayVar(&v.removeAAGUIDs, "remove-aaguid", nil, "remove an AAGUID from the key restriction list (repeatable)")
	f.StringArrayVar(&v.addProviders, "add-provider", nil, `add a well-known provider's AAGUIDs, e.g. "Microsoft Authenticator" (repeatable)`)
	f.StringVar(&v.fromFile, "from-file", "", "apply this file's JSON PATCH document (the admin API's fields) instead of flags")
	f.BoolVar(&v.dryRun, "dry-run", false, "save nothing: print who would lose passkey sign-in and which keys would stop working")
	f.BoolVar(&v.force, "force", false, "save even when the change leaves a global administrator or emergency account with no way to sign in (audited)")
	return cmd
}

// passkeyDryRun prints the impact preview of the change the flags describe.
func (a *app) passkeyDryRun(ctx context.Context, st store, fs *pflag.FlagSet, v passkeySetFlags) error {
	pols := a.policies(st)
	cur, err := pols.Fido2(ctx)
	if err != nil {
		return err
	}
	patch, err := a.passkeyPatch(ctx, st, cur, fs, v)
	if err != nil {
		return err
	}
	p, err := (&reports.Service{Store: st, Now: a.now}).PreviewFido2(ctx, pols, patch)
	if ve, ok := errors.AsType[*policy.ValidationError](err); ok {
		return &problemsError{heading: policyNotChanged, problems: ve.Problems}
	}
	if err != nil {
		return err
	}
	if a.jsonOut {
		return writeJSON(a.stdout, p)
	}
	w := a.stdout
	fmt.Fprintln(w, "Dry run: nothing was saved.")
	fmt.Fprintf(w, "%s would lose passkey sign-in, %s would stop working, %s in scope would hold no acceptable key.\n",
		count(p.Summary.UsersLosingPasskeySignIn, "person", "people"), count(p.Summary.KeysThatStopWorking, "key", "keys"),
		count(p.Summary.UsersInScopeWithoutAcceptableKey, "person", "people"))
	for _, u := range p.PrivilegedUsersAffected {
		kind := "global administrator"
		if u.IsEmergencyAccess {
			kind = "emergency access"
		}
		fmt.Fprintf(w, "WARNING: %s (%s) is affected: %s\n", u.UserPrincipalName, kind, strings.Join(u.Models, ", "))
	}
	if len(p.KeysThatStopWorking) > 0 {
		fmt.Fprintln(w, "Keys that would stop working:")
	}
	for _, k := range p.KeysThatStopWorking {
		model := k.Model
		if model == "" {
			model = "unknown model"
		}
		fmt.Fprintf(w, "  %s  %s (%s, AAGUID %s): %s\n", k.UserPrincipalName, k.DisplayName, model, k.AAGUID, k.Reason)
	}
	if more := p.Summary.KeysThatStopWorking - len(p.KeysThatStopWorking); more > 0 {
		fmt.Fprintf(w, "  … and %d more (--json lists the first %d; the API pages through all with $skip and $top).\n", more, len(p.KeysThatStopWorking))
	}
	if len(p.ByModel) > 1 || truncated(p) {
		fmt.Fprintln(w, "By model:")
		for _, m := range p.ByModel {
			model := m.Model
			if model == "" {
				model = "unknown model"
			}
			fmt.Fprintf(w, "  %s (AAGUID %s): %d keys of %d people\n", model, m.AAGUID, m.Keys, m.Users)
		}
	}
	return nil
}

// truncated says whether p leaves out keys that stop working.
func truncated(p reports.Preview) bool {
	return p.Summary.KeysThatStopWorking > len(p.KeysThatStopWorking)
}

const policyNotChanged = "the passkey (FIDO2) policy was not changed"

// passkeyPatch turns the flags into a PATCH document for UpdateFido2, which
// validates it. Problems the flags alone reveal (unknown groups, malformed
// AAGUIDs, unknown providers) are collected and reported together, named by
// flag, so nothing is saved unless everything given is usable.
func (a *app) passkeyPatch(ctx context.Context, st store, cur policy.Fido2, fs *pflag.FlagSet, v passkeySetFlags) ([]byte, error) {
	var changed []string
	for _, name := range slices.Concat(policyFlags, profileFlags) {
		if fs.Changed(name) {
			changed = append(changed, name)
		}
	}
	if slices.Contains(changed, "from-file") {
		if len(changed) > 1 {
			return nil, fmt.Errorf("--from-file is used alone; put every change in the file")
		}
		data, err := os.ReadFile(v.fromFile)
		if err != nil {
			return nil, fmt.Errorf("reading the policy PATCH document: %w", err)
		}
		return data, nil
	}
	if len(changed) == 0 || (len(changed) == 1 && changed[0] == "profile") {
		return nil, fmt.Errorf("nothing to change: give --state, --self-service, --include-all, --include-group, " +
			"--exclude-group, --clear-exclusions, a profile flag or --from-file (see keyward policy passkey set --help)")
	}
	b := patchBuilder{dir: a.directory(st), cur: cur, fs: fs, v: v}
	if err := b.build(ctx); err != nil {
		return nil, err
	}
	if len(b.problems) > 0 {
		return nil, &problemsError{heading: policyNotChanged, problems: b.problems}
	}
	return json.Marshal(b.patch)
}

// patchBuilder turns the flags into a policy.Patch against the current
// policy, collecting every problem the flags reveal.
type patchBuilder struct {
	dir      *directory.Service
	cur      policy.Fido2
	fs       *pflag.FlagSet
	v        passkeySetFlags
	patch    policy.Patch
	problems []string
}

func (b *patchBuilder) problem(format string, args ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

func (b *patchBuilder) build(ctx context.Context) error {
	if b.fs.Changed("state") {
		if b.v.state != policy.StateEnabled && b.v.state != policy.StateDisabled {
			b.problem("--state: %q is not %s or %s", b.v.state, policy.StateEnabled, policy.StateDisabled)
		}
		b.patch.State = &b.v.state
	}
	if b.fs.Changed("self-service") {
		b.patch.IsSelfServiceRegistrationAllowed = &b.v.selfService
	}
	if err := b.includes(ctx); err != nil {
		return err
	}
	if err := b.excludes(ctx); err != nil {
		return err
	}
	b.profiles()
	return nil
}

// groupIDs resolves groups named by ID or display name, recording unknown ones.
func (b *patchBuilder) groupIDs(ctx context.Context, flag string, names []string) ([]string, error) {
	var ids []string
	for _, n := range names {
		g, err := resolveGroup(ctx, b.dir, n)
		if err != nil {
			if ae := apperr.As(err); ae.Status == http.StatusNotFound || ae.Status == http.StatusBadRequest {
				b.problem("--%s: %s", flag, ae.Message)
				continue
			}
			return nil, err
		}
		if !slices.Contains(ids, g.ID) {
			ids = append(ids, g.ID)
		}
	}
	return ids, nil
}

func (b *patchBuilder) includes(ctx context.Context) error {
	if !b.fs.Changed("include-all") && !b.fs.Changed("include-group") {
		return nil
	}
	ids, err := b.groupIDs(ctx, "include-group", b.v.includeGroups)
	if err != nil {
		return err
	}
	if b.v.includeAll {
		ids = append([]string{policy.AllUsers}, ids...)
	}
	targets := make([]policy.IncludeTarget, 0, len(ids))
	for _, id := range ids {
		t := policy.IncludeTarget{TargetType: policy.TargetTypeGroup, ID: id}
		// A target that stays keeps its profiles; a new one gets the default.
		for _, old := range b.cur.IncludeTargets {
			if old.ID == id {
				t.AllowedPasskeyProfiles = old.AllowedPasskeyProfiles
			}
		}
		targets = append(targets, t)
	}
	b.patch.IncludeTargets = &targets
	return nil
}

func (b *patchBuilder) excludes(ctx context.Context) error {
	if !b.fs.Changed("exclude-group") && !b.v.clearExclusions {
		return nil
	}
	ids, err := b.groupIDs(ctx, "exclude-group", b.v.excludeGroups)
	if err != nil {
		return err
	}
	if !b.v.clearExclusions {
		var kept []string
		for _, t := range b.cur.ExcludeTargets {
			kept = append(kept, t.ID)
		}
		ids = append(kept, ids...)
	}
	targets := make([]policy.ExcludeTarget, 0, len(ids))
	for _, id := range ids {
		targets = append(targets, policy.ExcludeTarget{TargetType: policy.TargetTypeGroup, ID: id})
	}
	b.patch.ExcludeTargets = &targets
	return nil
}

// profiles patches the profile --profile names. Graph replaces the profile
// list whole, so the others are listed by ID alone, which keeps them as they are.
func (b *patchBuilder) profiles() {
	if !slices.ContainsFunc(profileFlags, b.fs.Changed) {
		if b.fs.Changed("profile") {
			b.problem("--profile only says which profile the profile flags (--%s) change; give one of them",
				strings.Join(profileFlags, ", --"))
		}
		return
	}
	target, ok := findProfile(b.cur, b.v.profile)
	if !ok {
		var names []string
		for _, p := range b.cur.PasskeyProfiles {
			names = append(names, fmt.Sprintf("%q (id %s)", p.Name, p.ID))
		}
		b.problem("--profile: no passkey profile with ID or name %q; the profiles are %s", b.v.profile, strings.Join(names, ", "))
		return
	}
	list := make([]policy.ProfilePatch, 0, len(b.cur.PasskeyProfiles))
	for _, p := range b.cur.PasskeyProfiles {
		entry := policy.ProfilePatch{ID: p.ID}
		if p.ID == target.ID {
			b.profileChanges(&entry, p)
		}
		list = append(list, entry)
	}
	b.patch.PasskeyProfiles = &list
}

func findProfile(f policy.Fido2, idOrName string) (policy.PasskeyProfile, bool) {
	if p, ok := f.Profile(idOrName); ok {
		return p, true
	}
	for _, p := range f.PasskeyProfiles {
		if strings.EqualFold(p.Name, strings.TrimSpace(idOrName)) {
			return p, true
		}
	}
	return policy.PasskeyProfile{}, false
}

func (b *patchBuilder) profileChanges(entry *policy.ProfilePatch, p policy.PasskeyProfile) {
	if b.fs.Changed("passkey-types") {
		if t, err := policy.ParsePasskeyTypes(b.v.passkeyTypes); err != nil {
			b.problem("--passkey-types: %v", err)
		} else {
			entry.PasskeyTypes = &t
		}
	}
	if b.fs.Changed("enforce-attestation") {
		enforcement := policy.AttestationDisabled
		if b.v.enforceAttestation {
			enforcement = policy.AttestationRegistrationOnly
		}
		entry.AttestationEnforcement = &enforcement
	}
	var kr policy.KeyRestrictionsPatch
	if b.fs.Changed("key-restrictions") {
		switch b.v.keyRestrictions {
		case "off":
			kr.IsEnforced = new(false)
		case policy.EnforcementAllow, policy.EnforcementBlock:
			kr.IsEnforced, kr.EnforcementType = new(true), &b.v.keyRestrictions
		default:
			b.problem("--key-restrictions: %q is not off, allow or block", b.v.keyRestrictions)
		}
	}
	if list, ok := b.aaguidList(p.KeyRestrictions.AAGUIDs); ok {
		kr.AAGUIDs = &list
	}
	if kr != (policy.KeyRestrictionsPatch{}) {
		entry.KeyRestrictions = &kr
	}
}

// aaguidList applies --aaguid, --add-aaguid, --add-provider and
// --remove-aaguid to the profile's list; ok is false when none was given.
func (b *patchBuilder) aaguidList(cur []string) ([]string, bool) {
	if !b.fs.Changed("aaguid") && !b.fs.Changed("add-aaguid") && !b.fs.Changed("remove-aaguid") && !b.fs.Changed("add-provider") {
		return nil, false
	}
	list := append([]string{}, cur...)
	if b.fs.Changed("aaguid") {
		list = b.normalize("aaguid", b.v.aaguids)
	}
	add := func(ids ...string) {
		for _, id := range ids {
			if !slices.Contains(list, id) {
				list = append(list, id)
			}
		}
	}
	add(b.normalize("add-aaguid", b.v.addAAGUIDs)...)
	for _, name := range b.v.addProviders {
		p, ok := findProvider(name)
		if !ok {
			b.problem("--add-provider: no well-known provider is called %q; the known ones are %s", name, providerNames())
			continue
		}
		add(p.AAGUIDs...)
	}
	for _, id := range b.normalize("remove-aaguid", b.v.removeAAGUIDs) {
		i := slices.Index(list, id)
		if i < 0 {
			b.problem("--remove-aaguid: %s is not in the profile's key restriction list", id)
			continue
		}
		list = slices.Delete(list, i, i+1)
	}
	return list, true
}

func (b *patchBuilder) normalize(flag string, in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		n, err := policy.NormalizeAAGUID(s)
		if err != nil {
			b.problem("--%s: %v", flag, err)
			continue
		}
		out = append(out, n)
	}
	return out
}

func findProvider(name string) (policy.Provider, bool) {
	for _, p := range policy.WellKnownProviders() {
		if strings.EqualFold(p.Name, strings.TrimSpace(name)) {
			return p, true
		}
	}
	return policy.Provider{}, false
}

func providerNames() string {
	var names []string
	for _, p := range policy.WellKnownProviders() {
		names = append(names, fmt.Sprintf("%q", p.Name))
	}
	return strings.Join(names, ", ")
}

// printFido2 prints the policy: the admin API's JSON with --json, otherwise
// a summary that names groups and key models instead of bare IDs.
func (a *app) printFido2(ctx context.Context, st store, f policy.Fido2) error {
	if a.jsonOut {
		return writeJSON(a.stdout, f)
	}
	groups, err := a.groupNames(ctx, st, f.GroupIDs())
	if err != nil {
		return err
	}
	model := a.modelNamer(ctx, st)
	profileNames := map[string]string{}
	for _, p := range f.PasskeyProfiles {
		profileNames[p.ID] = p.Name
	}
	w := a.stdout
	selfService := "allowed"
	if !f.IsSelfServiceRegistrationAllowed {
		selfService = "not allowed (only administrators register passkeys for users)"
	}
	if err := details(w, "Passkeys (FIDO2)", f.State, "Self-service registration", selfService); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nIncluded:")
	t := newIndented(w)
	for _, it := range f.IncludeTargets {
		var names []string
		for _, id := range it.AllowedPasskeyProfiles {
			names = append(names, cmp.Or(profileNames[id], id))
		}
		t.row("  "+targetName(it.ID, groups), "profiles: "+strings.Join(names, ", "))
	}
	if len(f.IncludeTargets) == 0 {
		t.row("  nobody (passkeys are in scope for no one)")
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Excluded:")
	t = newIndented(w)
	for _, et := range f.ExcludeTargets {
		t.row("  " + targetName(et.ID, groups))
	}
	if len(f.ExcludeTargets) == 0 {
		t.row("  nobody")
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, p := range f.PasskeyProfiles {
		if err := printProfile(w, p, model); err != nil {
			return err
		}
	}
	return nil
}

// newIndented is a table without a header, indented under a heading.
func newIndented(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func targetName(id string, groups map[string]string) string {
	if id == policy.AllUsers {
		return "all users"
	}
	if name, ok := groups[id]; ok {
		return fmt.Sprintf("group %q (%s)", name, id)
	}
	return fmt.Sprintf("group %s (no longer exists)", id)
}

func printProfile(w io.Writer, p policy.PasskeyProfile, model func(string) string) error {
	fmt.Fprintf(w, "\nPasskey profile %q (id %s):\n", p.Name, p.ID)
	attestation := "not enforced"
	if p.AttestationEnforcement == policy.AttestationRegistrationOnly {
		attestation = "enforced at registration (keys must be verified against the FIDO Metadata Service)"
	}
	kr := p.KeyRestrictions
	restrictions := "off"
	switch {
	case kr.IsEnforced && kr.EnforcementType == policy.EnforcementAllow:
		restrictions = "enforced: only these key models are allowed"
	case kr.IsEnforced:
		restrictions = "enforced: these key models are blocked"
	case len(kr.AAGUIDs) > 0:
		restrictions = fmt.Sprintf("off (this %s list is kept but not enforced)", kr.EnforcementType)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "  Passkey types:\t%s\n", strings.ReplaceAll(p.PasskeyTypes.String(), ",", ", "))
	fmt.Fprintf(tw, "  Attestation:\t%s\n", attestation)
	fmt.Fprintf(tw, "  Key restrictions:\t%s\n", restrictions)
	if err := tw.Flush(); err != nil {
		return err
	}
	if kr.IsEnforced && len(kr.AAGUIDs) == 0 {
		fmt.Fprintln(w, "    (no AAGUIDs)")
	}
	for _, id := range kr.AAGUIDs {
		fmt.Fprintf(w, "    %s  %s\n", id, model(id))
	}
	return nil
}

// groupNames maps the IDs of groups that still exist to their display names.
func (a *app) groupNames(ctx context.Context, st store, ids []string) (map[string]string, error) {
	names := make(map[string]string, len(ids))
	for _, id := range ids {
		g, err := st.GetGroup(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading group %s: %w", id, err)
		}
		names[id] = g.DisplayName
	}
	return names, nil
}

// modelNamer names key models: the FIDO Metadata Service's description
// first, then the built-in list of well-known providers. A stored blob that
// cannot be read only costs the MDS names, with a warning in the log.
func (a *app) modelNamer(ctx context.Context, st store) func(aaguid string) string {
	blob, err := a.mdsService(st, nil).Current(ctx)
	if err != nil {
		a.logger.Warn("key model names from the FIDO Metadata Service are unavailable", "err", err)
	}
	return func(aaguid string) string {
		if aaguid == policy.ZeroAAGUID {
			return "(no model: the all-zero AAGUID never passes an allow list)"
		}
		if e, ok := blob.Lookup(aaguid); ok && e.Description != "" {
			return e.Description
		}
		return cmp.Or(policy.ModelName(aaguid), "(model unknown)")
	}
}

package reports

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Preview is what a proposed passkey policy would change for the people who
// hold passkeys, before it is saved. Summary and ByModel count everything;
// the three long lists hold one page (Skip, Top) of their entries, and
// PrivilegedUsersAffected holds every one.
type Preview struct {
	Summary PreviewSummary `json:"summary"`
	// ByModel counts, per key model, the keys that stop working and their
	// owners, most keys first.
	ByModel []ModelImpact `json:"keysThatStopWorkingByModel"`
	// Skip and Top say which page of each long list this is: its entries
	// Skip+1 to Skip+Top (ordered by the user's ID, then the key's ID).
	Skip int `json:"skip"`
	Top  int `json:"top"`
	// UsersLosingPasskeySignIn could sign in with a passkey and could not.
	UsersLosingPasskeySignIn []AffectedUser `json:"usersLosingPasskeySignIn"`
	// KeysThatStopWorking sign in today and would be refused.
	KeysThatStopWorking []AffectedKey `json:"keysThatStopWorking"`
	// UsersInScopeWithoutAcceptableKey are in the proposed policy's scope and
	// hold passkeys, none of which it accepts.
	UsersInScopeWithoutAcceptableKey []AffectedUser `json:"usersInScopeWithoutAcceptableKey"`
	// PrivilegedUsersAffected are the global administrators and emergency
	// accounts with a key that stops working: always all of them.
	PrivilegedUsersAffected []AffectedUser `json:"privilegedUsersAffected"`
}

// PreviewSummary counts the lists, in full.
type PreviewSummary struct {
	UsersLosingPasskeySignIn         int `json:"usersLosingPasskeySignIn"`
	KeysThatStopWorking              int `json:"keysThatStopWorking"`
	UsersInScopeWithoutAcceptableKey int `json:"usersInScopeWithoutAcceptableKey"`
	PrivilegedUsersAffected          int `json:"privilegedUsersAffected"`
}

// ModelImpact is one key model's share of the keys that stop working.
type ModelImpact struct {
	AAGUID string `json:"aaGuid"`
	Model  string `json:"model"`
	Keys   int    `json:"keys"`
	Users  int    `json:"users"`
}

// AffectedUser is a person a change reaches.
type AffectedUser struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	IsGlobalAdmin     bool   `json:"isGlobalAdmin"`
	IsEmergencyAccess bool   `json:"isEmergencyAccess"`
	// Models are the models of the user's keys that stop working.
	Models []string `json:"models"`
	// AcceptableKeysLeft counts the user's keys the proposed policy accepts.
	AcceptableKeysLeft int `json:"acceptableKeysLeft"`

	// key is one of the user's keys, by which Details finds the user.
	key string
}

// AffectedKey is a passkey that stops working, and why.
type AffectedKey struct {
	ID                string `json:"id"`
	UserID            string `json:"userId"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	AAGUID            string `json:"aaGuid"`
	Model             string `json:"model"`
	Code              string `json:"code"`
	Reason            string `json:"reason"`
}

// PreviewPage chooses the page of the long lists: Skip entries left out,
// then at most Top (DefaultPreviewTop when 0).
type PreviewPage struct{ Skip, Top int }

// DefaultPreviewTop and MaxPreviewTop bound a page of the preview's lists.
const (
	DefaultPreviewTop = 100
	MaxPreviewTop     = 1000
)

// Check refuses a page out of bounds and fills in the default size.
func (pg PreviewPage) Check() (PreviewPage, error) {
	if pg.Top == 0 {
		pg.Top = DefaultPreviewTop
	}
	if pg.Skip < 0 || pg.Top < 1 || pg.Top > MaxPreviewTop {
		return pg, apperr.New(http.StatusBadRequest, "invalidRequest",
			"$skip must be 0 or more and $top from 1 to %d", MaxPreviewTop)
	}
	return pg, nil
}

func (pg PreviewPage) holds(i int) bool { return i >= pg.Skip && i < pg.Skip+pg.Top }

// verdicts is what the current and the proposed policy say of a kind of key.
type verdicts struct{ was, now policy.Decision }

// judgement is a kind of key's verdicts, once judged.
type judgement struct {
	verdicts
	judged bool
}

// reach is what the policies say of the owners of one set of groups (the
// groups either policy names): whether the proposed one reaches them, and
// each kind of key's verdicts for them, by kind number.
type reach struct {
	inScope bool
	kinds   []judgement
}

// kindOf is what a verdict depends on besides the owner's groups.
type kindOf struct {
	aaguid, model, keyID string
	backupEligible       bool
}

// Compare judges every key (facts of keys that sign in today: enabled
// owners, no clone flag) under the current and the proposed policy, by the
// sign-in's own decision (methodpolicy.PasskeySignIn, with distrust saying
// which models MDS distrusts), once per kind of key. It counts everything
// and lists page's entries, and every privileged account affected, with
// IDs only: Details names them. facts must hold each owner's keys
// together (Storage.EachKeyFacts' order).
func Compare(cur, next policy.Fido2, facts []storage.KeyFacts, distrust methodpolicy.Distrust, page PreviewPage) Preview {
	c := newComparison(cur, next, distrust, page)
	kinds := map[kindOf]int{}
	for _, f := range facts {
		k := kindOf{f.AAGUID, f.Model, f.AttestationKeyID, f.BackupEligible}
		n, ok := kinds[k]
		if !ok {
			n = len(kinds)
			kinds[k] = n
		}
		c.add(n, f)
	}
	return c.end()
}

// comparison is Compare as the facts arrive, one at a time: it holds one
// owner's keys, never all of them.
type comparison struct {
	cur, next policy.Fido2
	distrust  methodpolicy.Distrust
	page      PreviewPage
	p         Preview
	// reaches are by the owners' groups joined by commas; last is the
	// previous owner's, with its groups.
	reaches    map[string]*reach
	last       *reach
	lastGroups string
	// models are the models of keys that stop working, in the order they
	// were first met; kindModels[kind] is a kind's, once met.
	models     map[[2]string]*ModelImpact
	order      [][2]string
	kindModels []*ModelImpact
	// mine and kinds are the current owner's keys and their kinds; lost the
	// models of theirs that stop working.
	mine  []storage.KeyFacts
	kinds []int
	lost  [][2]string
}

func newComparison(cur, next policy.Fido2, distrust methodpolicy.Distrust, page PreviewPage) *comparison {
	return &comparison{cur: cur, next: next, distrust: distrust, page: page,
		p: Preview{Skip: page.Skip, Top: page.Top, ByModel: []ModelImpact{}, UsersLosingPasskeySignIn: []AffectedUser{},
			KeysThatStopWorking: []AffectedKey{}, UsersInScopeWithoutAcceptableKey: []AffectedUser{},
			PrivilegedUsersAffected: []AffectedUser{}},
		reaches: map[string]*reach{}, models: map[[2]string]*ModelImpact{}}
}

// add takes the next key, of kind number kind (equal numbers for equal
// AAGUID, model, key identifier and backup eligibility), in its owner's
// order.
func (c *comparison) add(kind int, f storage.KeyFacts) {
	if len(c.mine) > 0 && c.mine[0].UserID != f.UserID {
		c.owner()
	}
	c.mine = append(c.mine, f)
	c.kinds = append(c.kinds, kind)
}

// end judges the last owner's keys and returns the preview.
func (c *comparison) end() Preview {
	if len(c.mine) > 0 {
		c.owner()
	}
	p := &c.p
	p.Summary.PrivilegedUsersAffected = len(p.PrivilegedUsersAffected)
	for _, m := range c.order {
		p.ByModel = append(p.ByModel, *c.models[m])
	}
	slices.SortStableFunc(p.ByModel, func(a, b ModelImpact) int { return b.Keys - a.Keys })
	return *p
}

// owner judges the keys of one owner (c.mine), counts them and lists what
// falls in the page.
func (c *comparison) owner() {
	mine, p, page := c.mine, &c.p, c.page
	groups := strings.Join(mine[0].GroupIDs, ",")
	r := c.last
	if r == nil || groups != c.lastGroups {
		r = c.reaches[groups]
		if r == nil {
			_, d := c.next.Scope(mine[0].GroupIDs)
			r = &reach{inScope: d.Allowed}
			c.reaches[groups] = r
		}
		c.last, c.lastGroups = r, groups
	}
	before, after := 0, 0
	lost := c.lost[:0]
	for i, f := range mine {
		kind := c.kinds[i]
		if kind >= len(r.kinds) {
			r.kinds = append(r.kinds, make([]judgement, kind+1-len(r.kinds))...)
		}
		j := &r.kinds[kind]
		if !j.judged {
			k := storage.Credential{AAGUID: f.AAGUID, Model: f.Model, AttestationKeyID: f.AttestationKeyID, BackupEligible: f.BackupEligible}
			j.verdicts = verdicts{methodpolicy.PasskeySignIn(c.cur, f.GroupIDs, k, c.distrust), methodpolicy.PasskeySignIn(c.next, f.GroupIDs, k, c.distrust)}
			j.judged = true
		}
		v := j.verdicts
		if v.was.Allowed {
			before++
		}
		if v.now.Allowed {
			after++
			continue
		}
		if !v.was.Allowed {
			continue
		}
		m := [2]string{f.AAGUID, f.Model}
		if kind >= len(c.kindModels) {
			c.kindModels = append(c.kindModels, make([]*ModelImpact, kind+1-len(c.kindModels))...)
		}
		mi := c.kindModels[kind]
		if mi == nil {
			if mi = c.models[m]; mi == nil {
				mi = &ModelImpact{AAGUID: f.AAGUID, Model: f.Model}
				c.models[m] = mi
				c.order = append(c.order, m)
			}
			c.kindModels[kind] = mi
		}
		mi.Keys++
		if !slices.Contains(lost, m) {
			lost = append(lost, m)
			mi.Users++
		}
		if page.holds(p.Summary.KeysThatStopWorking) {
			p.KeysThatStopWorking = append(p.KeysThatStopWorking, AffectedKey{ID: f.CredentialID, UserID: f.UserID,
				AAGUID: f.AAGUID, Model: f.Model, Code: v.now.Code, Reason: v.now.Reason})
		}
		p.Summary.KeysThatStopWorking++
	}
	user := func() AffectedUser {
		u := AffectedUser{ID: mine[0].UserID, Models: []string{}, AcceptableKeysLeft: after, key: mine[0].CredentialID}
		for _, m := range lost {
			name := m[1]
			if name == "" {
				name = m[0]
			}
			if !slices.Contains(u.Models, name) {
				u.Models = append(u.Models, name)
			}
		}
		return u
	}
	if before > 0 && after == 0 {
		if page.holds(p.Summary.UsersLosingPasskeySignIn) {
			p.UsersLosingPasskeySignIn = append(p.UsersLosingPasskeySignIn, user())
		}
		p.Summary.UsersLosingPasskeySignIn++
	}
	if r.inScope && after == 0 {
		if page.holds(p.Summary.UsersInScopeWithoutAcceptableKey) {
			p.UsersInScopeWithoutAcceptableKey = append(p.UsersInScopeWithoutAcceptableKey, user())
		}
		p.Summary.UsersInScopeWithoutAcceptableKey++
	}
	if len(lost) > 0 && mine[0].Privileged {
		p.PrivilegedUsersAffected = append(p.PrivilegedUsersAffected, user())
	}
	c.lost = lost
	c.mine, c.kinds = mine[:0], c.kinds[:0]
}

// Details fills in the names and roles of the users and keys p lists,
// read by their keys' IDs.
func (s *Service) Details(ctx context.Context, p *Preview) error {
	var ids []string
	lists := [][]AffectedUser{p.UsersLosingPasskeySignIn, p.UsersInScopeWithoutAcceptableKey, p.PrivilegedUsersAffected}
	for _, list := range lists {
		for _, u := range list {
			ids = append(ids, u.key)
		}
	}
	for _, k := range p.KeysThatStopWorking {
		ids = append(ids, k.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	owners, err := s.Store.ListCredentialOwnersByID(ctx, ids)
	if err != nil {
		return apperr.Internal(err)
	}
	byKey := make(map[string]*storage.CredentialOwner, len(owners))
	for i := range owners {
		byKey[owners[i].Credential.ID] = &owners[i]
	}
	for _, list := range lists {
		for i := range list {
			// A key deleted since the judgement leaves its entry with the IDs.
			if o := byKey[list[i].key]; o != nil {
				u := &list[i]
				u.UserPrincipalName, u.DisplayName = o.User.UserPrincipalName, o.User.DisplayName
				u.IsGlobalAdmin, u.IsEmergencyAccess = o.User.AdminRole == storage.RoleGlobalAdmin, o.User.IsEmergencyAccess
			}
		}
	}
	for i := range p.KeysThatStopWorking {
		if o := byKey[p.KeysThatStopWorking[i].ID]; o != nil {
			p.KeysThatStopWorking[i].UserPrincipalName, p.KeysThatStopWorking[i].DisplayName = o.User.UserPrincipalName, o.Credential.DisplayName
		}
	}
	return nil
}

// Fido2Source is where the reports read the current policy, and the
// preview what a PATCH would make of it.
type Fido2Source interface {
	Fido2(ctx context.Context) (policy.Fido2, error)
	// Propose returns the current policy and the one a PATCH with patch
	// would save, refusing what the PATCH would refuse.
	Propose(ctx context.Context, patch []byte) (cur, next policy.Fido2, err error)
}

// PreviewFido2 applies patch (the body a PATCH of the policy takes) to the
// current policy without saving it and compares the two. A patch the PATCH
// would refuse is refused the same way, and targets naming deleted groups
// are dropped from both as the PATCH drops them.
func (s *Service) PreviewFido2(ctx context.Context, policies Fido2Source, patch []byte) (Preview, error) {
	return s.PreviewFido2Page(ctx, policies, patch, PreviewPage{})
}

// PreviewFido2Page is PreviewFido2 listing page of the long lists (see
// Preview); the counts are always in full.
func (s *Service) PreviewFido2Page(ctx context.Context, policies Fido2Source, patch []byte, page PreviewPage) (Preview, error) {
	page, err := page.Check()
	if err != nil {
		return Preview{}, err
	}
	cur, next, err := policies.Propose(ctx, patch)
	if err != nil {
		return Preview{}, err
	}
	// Only the groups either policy names can change a verdict.
	groups := slices.Compact(slices.Sorted(slices.Values(slices.Concat(cur.GroupIDs(), next.GroupIDs()))))
	// A key of a model MDS distrusts stops working where a profile starts
	// to block such models, as the lockout guard judges it.
	var distrust methodpolicy.Distrust
	if s.Metadata != nil {
		blob, err := s.Metadata.Current(ctx)
		if err != nil {
			return Preview{}, apperr.Internal(err)
		}
		distrust = methodpolicy.DistrustIn(blob, s.Now())
	}
	// Judged as read: the keys are never all held at once.
	c := newComparison(cur, next, distrust, page)
	err = s.Store.EachKeyFacts(ctx, groups, func(kind int, f storage.KeyFacts) error {
		c.add(kind, f)
		return nil
	})
	if err != nil {
		return Preview{}, apperr.Internal(err)
	}
	p := c.end()
	return p, s.Details(ctx, &p)
}

package audit

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/odatafilter"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// DirectoryAudit is Graph's directoryAudit.
type DirectoryAudit struct {
	ID                  string           `json:"id"`
	ActivityDateTime    string           `json:"activityDateTime"`
	ActivityDisplayName string           `json:"activityDisplayName"`
	Category            string           `json:"category"`
	OperationType       string           `json:"operationType"`
	Result              string           `json:"result"`
	ResultReason        string           `json:"resultReason"`
	LoggedByService     string           `json:"loggedByService"`
	CorrelationID       string           `json:"correlationId"`
	InitiatedBy         InitiatedBy      `json:"initiatedBy"`
	TargetResources     []TargetResource `json:"targetResources"`
	AdditionalDetails   []KeyValue       `json:"additionalDetails"`
	// Action is Keyward's own name of the activity ("policy.fido2.update").
	Action string `json:"keywardAction"`
}

// InitiatedBy is who made the change: a person, or an API token or the
// operator's command line (an app, in Graph's terms).
type InitiatedBy struct {
	User *UserIdentity `json:"user"`
	App  *AppIdentity  `json:"app"`
}

type UserIdentity struct {
	UserPrincipalName string `json:"userPrincipalName"`
}

type AppIdentity struct {
	DisplayName          string `json:"displayName"`
	ServicePrincipalName string `json:"servicePrincipalName"`
}

type TargetResource struct {
	ID                 string             `json:"id"`
	Type               string             `json:"type"`
	DisplayName        string             `json:"displayName"`
	ModifiedProperties []ModifiedProperty `json:"modifiedProperties"`
}

// ModifiedProperty is one changed property; the values are JSON text, as in
// Graph ("" when there was none).
type ModifiedProperty struct {
	DisplayName string `json:"displayName"`
	OldValue    string `json:"oldValue"`
	NewValue    string `json:"newValue"`
}

type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// activities names Keyward's audit actions as Entra's audit log does.
var activities = map[string]string{
	"user.create":                           "Add user",
	"user.update":                           "Update user",
	"user.delete":                           "Delete user",
	"group.create":                          "Add group",
	"group.update":                          "Update group",
	"group.delete":                          "Delete group",
	"group.member.add":                      "Add member to group",
	"group.member.remove":                   "Remove member from group",
	"user.fido2Method.create":               "Add passkey",
	"user.fido2Method.update":               "Update passkey",
	"user.fido2Method.delete":               "Delete passkey",
	"user.softwareOathMethod.create":        "Add authenticator app",
	"user.softwareOathMethod.delete":        "Delete authenticator app",
	"user.temporaryAccessPassMethod.create": "Add Temporary Access Pass",
	"user.temporaryAccessPassMethod.delete": "Delete Temporary Access Pass",
	"policy.fido2.update":                   "Update authentication methods policy",
	"application.create":                    "Add application",
	"application.update":                    "Update application",
	"application.delete":                    "Delete application",
	"application.addPassword":               "Add client secret",
	"application.removePassword":            "Remove client secret",
}

// Categories are the directoryAudit categories and the actions each holds.
var Categories = []struct{ Name, ActionPrefix string }{
	{"UserManagement", "user."},
	{"GroupManagement", "group."},
	{"Policy", "policy."},
	{"ApplicationManagement", "application."},
	{"ConditionalAccess", "conditionalAccess."},
	{"TokenManagement", "token."},
}

func category(action string) string {
	for _, c := range Categories {
		if strings.HasPrefix(action, c.ActionPrefix) {
			return c.Name
		}
	}
	return "Other"
}

func operationType(action string) string {
	last := action[strings.LastIndex(action, ".")+1:]
	switch last {
	case "create", "add", "addPassword":
		return "Add"
	case "delete", "remove", "removePassword", "revoke":
		return "Delete"
	}
	return "Update"
}

// ActivityDisplayName is the activity's name in the audit log. A passkey
// added says which type it is, when the record knows.
func ActivityDisplayName(action string, details map[string]json.RawMessage) string {
	name, ok := activities[action]
	if !ok {
		return action
	}
	if action == "user.fido2Method.create" {
		var t string
		_ = json.Unmarshal(details["passkeyType"], &t)
		switch t {
		case policy.DeviceBound.String():
			name += " (device-bound)"
		case policy.Synced.String():
			name += " (synced)"
		}
	}
	return name
}

// initiator turns an actor ("user:<upn>", "token:<name>", "cli") into Graph's initiatedBy.
func initiator(actor string) InitiatedBy {
	kind, name, _ := strings.Cut(actor, ":")
	switch kind {
	case "user":
		return InitiatedBy{User: &UserIdentity{UserPrincipalName: name}}
	case "token":
		return InitiatedBy{App: &AppIdentity{DisplayName: name, ServicePrincipalName: "token:" + name}}
	}
	return InitiatedBy{App: &AppIdentity{DisplayName: "keyward " + actor, ServicePrincipalName: actor}}
}

// target turns a record's target into Graph's target resource.
func target(t string) TargetResource {
	if t == policy.AuditTarget {
		return TargetResource{ID: "fido2", Type: "Policy", DisplayName: "Passkey (FIDO2) authentication method"}
	}
	kind, id, ok := strings.Cut(t, ":")
	if !ok { // method changes name the user by ID alone
		return TargetResource{ID: t, Type: "User"}
	}
	types := map[string]string{"user": "User", "group": "Group", "application": "Application", "token": "Token"}
	if ty, ok := types[kind]; ok {
		return TargetResource{ID: id, Type: ty}
	}
	return TargetResource{ID: t, Type: "Other"}
}

// NewDirectoryAudit is an audit record in Graph's shape. A record whose
// details hold "oldValue" and "newValue" (a policy change) lists every
// changed property with both values; other details list what was set.
func NewDirectoryAudit(e storage.AuditEvent) DirectoryAudit {
	var details map[string]json.RawMessage
	_ = json.Unmarshal(e.Details, &details)
	tr := target(e.Target)
	a := DirectoryAudit{ID: e.ID, ActivityDateTime: graphTime(e.Time), Action: e.Action,
		ActivityDisplayName: ActivityDisplayName(e.Action, details), Category: category(e.Action),
		OperationType: operationType(e.Action), Result: "success", LoggedByService: "Keyward",
		CorrelationID: e.CorrelationID, InitiatedBy: initiator(e.Actor), AdditionalDetails: []KeyValue{}}
	if old, ok := details["oldValue"]; ok {
		tr.ModifiedProperties = ModifiedProperties(old, details["newValue"])
	} else {
		tr.ModifiedProperties = []ModifiedProperty{}
		for _, k := range sortedKeys(details) {
			a.AdditionalDetails = append(a.AdditionalDetails, KeyValue{Key: k, Value: text(details[k])})
			if operationType(e.Action) == "Update" {
				tr.ModifiedProperties = append(tr.ModifiedProperties, ModifiedProperty{DisplayName: k, NewValue: string(details[k])})
			}
		}
	}
	a.TargetResources = []TargetResource{tr}
	return a
}

// text is a JSON value as a person reads it: a string without its quotes.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ModifiedProperties compares two JSON documents and lists each changed
// leaf by its path ("passkeyProfiles/0/keyRestrictions/aaGuids"): objects are
// walked, arrays of objects are walked by position, and other arrays and
// values are compared whole.
func ModifiedProperties(oldDoc, newDoc json.RawMessage) []ModifiedProperty {
	out := []ModifiedProperty{}
	diff(&out, "", decode(oldDoc), decode(newDoc))
	return out
}

func decode(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

func diff(out *[]ModifiedProperty, path string, a, b any) {
	am, aObj := a.(map[string]any)
	bm, bObj := b.(map[string]any)
	if aObj && bObj {
		keys := sortedKeys(am)
		for _, k := range sortedKeys(bm) {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range slices.Compact(keys) {
			diff(out, join(path, k), am[k], bm[k])
		}
		return
	}
	aa, aArr := a.([]any)
	ba, bArr := b.([]any)
	if aArr && bArr && objects(aa) && objects(ba) {
		for i := range max(len(aa), len(ba)) {
			var x, y any
			if i < len(aa) {
				x = aa[i]
			}
			if i < len(ba) {
				y = ba[i]
			}
			diff(out, join(path, strconv.Itoa(i)), x, y)
		}
		return
	}
	ja, jb := encode(a), encode(b)
	if ja != jb {
		*out = append(*out, ModifiedProperty{DisplayName: path, OldValue: ja, NewValue: jb})
	}
}

func objects(vs []any) bool {
	for _, v := range vs {
		if _, ok := v.(map[string]any); !ok {
			return false
		}
	}
	return len(vs) > 0
}

func encode(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "/" + k
}

// AuditQuery turns a $filter on the audit log into a query. Supported:
// activityDateTime ge|le|gt|lt <time>, initiatedBy/user/userPrincipalName eq
// '…', initiatedBy/app/displayName eq '…' (an API token's name),
// targetResources/any(t: t/id eq '…'), category eq '…'.
func AuditQuery(filter string) (storage.AuditQuery, error) {
	var q storage.AuditQuery
	err := eachClause(filter, func(c odatafilter.Clause, seen map[string]bool) error { return auditClause(&q, c, seen) })
	return q, err
}

const auditFields = "activityDateTime (ge, le, gt, lt), initiatedBy/user/userPrincipalName, initiatedBy/app/displayName, " +
	"targetResources/any(t: t/id eq '…'), category (eq)"

func auditClause(q *storage.AuditQuery, c odatafilter.Clause, seen map[string]bool) error {
	var v string
	switch {
	case c.Any && strings.EqualFold(c.Path, "targetResources") && strings.EqualFold(c.Inner, "id"):
		if err := eqString(&v, c); err != nil {
			return err
		}
		// Records name a user "user:<id>" or, for method changes, by the ID alone.
		q.Targets = []string{v, "user:" + v, "group:" + v, "application:" + v}
		if v == "fido2" {
			q.Targets = append(q.Targets, policy.AuditTarget)
		}
		return nil
	case c.Any:
	case strings.EqualFold(c.Path, "activityDateTime"):
		return period(&q.Since, &q.Until, c)
	case strings.EqualFold(c.Path, "initiatedBy/user/userPrincipalName"),
		strings.EqualFold(c.Path, "initiatedBy/app/displayName"):
		if seen["initiatedBy/user/userPrincipalName/eq"] && seen["initiatedBy/app/displayName/eq"] {
			return fail("a change has one initiator: filter on a user or on an app, not both")
		}
		if err := eqString(&v, c); err != nil {
			return err
		}
		q.Actor = "token:" + v
		if strings.HasPrefix(strings.ToLower(c.Path), "initiatedby/user/") {
			q.Actor = "user:" + v
		}
		return nil
	case strings.EqualFold(c.Path, "category"):
		if err := eqString(&v, c); err != nil {
			return err
		}
		for _, cat := range Categories {
			if strings.EqualFold(cat.Name, v) {
				q.ActionPrefix = cat.ActionPrefix
				return nil
			}
		}
		names := make([]string, len(Categories))
		for i, cat := range Categories {
			names[i] = cat.Name
		}
		return fail("category %s is not one of %s", c.Value, strings.Join(names, ", "))
	}
	return fail("filtering the audit log on %s is not supported; supported: %s", c.Field(), auditFields)
}

package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/policy"
)

// targetIDs lists the group IDs of a policy's include and exclude targets.
func targetIDs(p map[string]any) (include, exclude []string) {
	for _, t := range p["includeTargets"].([]any) {
		include = append(include, t.(map[string]any)["id"].(string))
	}
	for _, t := range p["excludeTargets"].([]any) {
		exclude = append(exclude, t.(map[string]any)["id"].(string))
	}
	return include, exclude
}

// Deleting a group the passkey policy names keeps the policy consistent and
// editable: an included group leaves the include targets in the same
// transaction (audited), an excluded one cannot be deleted while excluded —
// that would silently let its members use passkeys.
func TestDeletingAGroupThePolicyNames(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		alice := w.user("alice@contoso.com")
		pilots, other := w.group("Passkey pilots", alice), w.group("Second wave")
		blocked := w.group("Contractors", alice)
		w.setPolicy(`{"state":"enabled","includeTargets":[{"targetType":"group","id":"` + pilots + `"},{"targetType":"group","id":"` + other + `"}],
			"excludeTargets":[{"targetType":"group","id":"` + blocked + `"}]}`)

		t.Run("an_excluded_group_is_not_deleted", func(t *testing.T) {
			before := w.getPolicy()
			wantError(t, w.do("DELETE", "/api/v1/groups/"+blocked, bearer(w.admin), nil), http.StatusConflict, "conflict",
				`group "Contractors" is excluded from the passkey (FIDO2) policy`)
			w.mustStatus(w.do("GET", "/api/v1/groups/"+blocked, bearer(w.reader), nil), http.StatusOK)
			if got := w.mustStatus(w.do("GET", "/api/v1/groups/"+blocked+"/members", bearer(w.reader), nil), http.StatusOK).json(t); len(got["value"].([]any)) != 1 {
				t.Fatalf("members after the refused delete = %v", got)
			}
			if after := w.getPolicy(); !equalJSON(before, after) {
				t.Fatalf("policy changed:\n%v\n%v", before, after)
			}
		})
		t.Run("an_included_group_leaves_the_policy_with_it", func(t *testing.T) {
			updates := len(w.audit("policy.fido2.update"))
			w.mustStatus(w.do("DELETE", "/api/v1/groups/"+pilots, bearer(w.admin), nil), http.StatusNoContent)
			include, exclude := targetIDs(w.getPolicy())
			if strings.Join(include, ",") != other || strings.Join(exclude, ",") != blocked {
				t.Fatalf("targets after deleting the included group: include %v, exclude %v", include, exclude)
			}
			got := w.audit("policy.fido2.update")
			var change struct{ OldValue, NewValue json.RawMessage }
			if len(got) == updates+1 {
				_ = json.Unmarshal(got[0].Details, &change)
			}
			if len(got) != updates+1 || got[0].Actor != "token:automation" ||
				!strings.Contains(string(change.OldValue), pilots) || strings.Contains(string(change.NewValue), pilots) {
				t.Fatalf("policy audit = %+v, want one more record by token:automation with the group before and not after", got)
			}
			if len(w.audit("group.delete")) != 1 {
				t.Fatal("the group deletion was not audited")
			}
		})
		t.Run("the_policy_stays_editable", func(t *testing.T) {
			w.setPolicy(`{"excludeTargets":[]}`)
			w.mustStatus(w.do("DELETE", "/api/v1/groups/"+blocked, bearer(w.admin), nil), http.StatusNoContent)
			w.mustStatus(w.do("DELETE", "/api/v1/groups/"+other, bearer(w.admin), nil), http.StatusNoContent)
			w.setPolicy(`{"state":"disabled"}`)
		})
	})
}

// A database in which a group the policy names was deleted (as the version
// before this fix allowed) gets an editable policy back: the next change
// drops the missing groups instead of failing on them.
func TestPolicyNamingADeletedGroupIsEditableAgain(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		kept, gone, goneToo := w.group("Kept"), w.group("Gone"), w.group("Gone too")
		w.setPolicy(`{"state":"enabled","includeTargets":[{"targetType":"group","id":"` + kept + `"},{"targetType":"group","id":"` + gone + `"}],
			"excludeTargets":[{"targetType":"group","id":"` + goneToo + `"}]}`)
		for _, id := range []string{gone, goneToo} { // behind the API's back, as before
			if err := w.store.DeleteGroup(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}
		p := w.setPolicy(`{"state":"disabled"}`)
		include, exclude := targetIDs(p)
		if p["state"] != "disabled" || strings.Join(include, ",") != kept || len(exclude) != 0 {
			t.Fatalf("policy = %v, want disabled with only the existing group", p)
		}
		// A change that names a missing group itself is still refused.
		r := w.do("PATCH", policyPath, bearer(w.admin), `{"excludeTargets":[{"targetType":"group","id":"`+gone+`"}]}`)
		wantError(t, r, http.StatusBadRequest, "invalidRequest", "do not exist")
		stored, err := w.store.GetPolicy(context.Background(), policy.StorageName)
		if err != nil {
			t.Fatal(err)
		}
		f, err := policy.Load(stored.Data)
		if err != nil || len(f.GroupIDs()) != 1 {
			t.Fatalf("stored policy %s (%v)", stored.Data, err)
		}
	})
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Admin center — one group: properties, members (add by searching users,
// remove), deletion.
import { get, post, patch, del, odataString } from "./api.js";
import { $, h, show, setAlert, toast, confirmDialog, onSubmit, flash, takeFlash, badge } from "./ui.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const id = document.getElementById("main").dataset.id;
const base = "/api/v1/groups/" + encodeURIComponent(id);
const pageError = $("#page-error");
let group = null;
let members = [];
let searchTimer = 0;
let generation = 0;
const groupMessages = formMessages($("#group-form"), [
  { input: "#edit-group-name", names: ["displayName"] },
  { input: "#edit-group-description", names: ["description"] },
]);
const membersMessages = formMessages($("#members").closest("section"), [], { actions: $("#members"), id: "members" });
const memberMessages = formMessages($("#add-member-form"), [{ input: "#member-search", names: ["userPrincipalName"] }],
  { actions: $("#member-results") });

function render() {
  document.title = `${group.displayName} · Keyward`;
  $("#crumb").textContent = group.displayName;
  $("#group-title").textContent = group.displayName;
  $("#group-description").textContent = group.description || "";
  $("#edit-group-name").value = group.displayName;
  $("#edit-group-description").value = group.description || "";
}

// showPolicyRole says whether the passkey policy targets or excludes this
// group (and under which profiles), as the policy page would.
async function showPolicyRole() {
  const pol = await get("/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2");
  const profile = (pid) => ((pol.passkeyProfiles || []).find((p) => p.id === pid) || {}).name || pid;
  const inc = (pol.includeTargets || []).find((t) => t.id === id);
  const exc = (pol.excludeTargets || []).find((t) => t.id === id);
  const off = pol.state !== "enabled" ? " (passkeys are turned off for the organisation)" : "";
  let parts;
  if (exc) parts = [badge("Excluded", "danger"), ` The passkey policy excludes this group: its members cannot use passkeys${inc ? ", although it is also targeted — exclusion wins" : ""}${off}.`];
  else if (inc) parts = [badge("Targeted", "success"), ` The passkey policy targets this group, under ${(inc.allowedPasskeyProfiles || []).map((p) => `“${profile(p)}”`).join(", ")}${off}.`];
  else parts = [badge("Not targeted", ""), ` The passkey policy neither targets nor excludes this group${off}.`];
  $("#group-passkey-policy").replaceChildren(...parts, " ", h("a", { href: "/admin/authentication-methods/fido2" }, "Passkey (FIDO2) settings"));
}

async function loadMembers() {
  const res = await get(base + "/members?$top=999");
  members = res.value || [];
  $("#member-count").textContent = members.length === 1 ? "1 member" : `${members.length} members`;
  const box = $("#members");
  if (!members.length) {
    box.replaceChildren(h("p", { class: "empty" }, "No members yet. Find users on the right to add them."));
    return;
  }
  box.replaceChildren(h("table", { class: "table", id: "members-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "hide-sm" }, "User principal name"),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
    h("tbody", {}, members.map((m) => h("tr", { dataset: { userId: m.id } },
      h("td", {}, h("a", { href: "/admin/users/" + encodeURIComponent(m.id), class: "cell-main" }, m.displayName || m.userPrincipalName)),
      h("td", { class: "hide-sm" }, m.userPrincipalName),
      h("td", { class: "actions" }, h("button", {
        type: "button", class: "btn btn-link danger", "aria-label": `Remove ${m.userPrincipalName}`, onclick: () => removeMember(m),
      }, "Remove")))))));
}

async function removeMember(m) {
  membersMessages.clear();
  try {
    await del(base + "/members/" + encodeURIComponent(m.id));
    membersMessages.saved(`${m.userPrincipalName} removed from ${group.displayName}.`);
    await loadMembers();
    search();
  } catch (e) {
    membersMessages.error(e.message);
  }
}

async function addMember(u, button) {
  button.disabled = true;
  try {
    memberMessages.clear();
    await post(base + "/members", { id: u.id });
    memberMessages.saved(`${u.userPrincipalName} added to ${group.displayName}.`);
    await loadMembers();
    search();
  } catch (e) {
    button.disabled = false;
    memberMessages.error(e);
  }
}

async function search() {
  const gen = ++generation;
  const q = $("#member-search").value.trim();
  const list = $("#member-results");
  if (!q) {
    list.replaceChildren();
    return;
  }
  let res;
  try {
    res = await get("/api/v1/users?$top=8&$filter=" + encodeURIComponent(`startswith(userPrincipalName,${odataString(q)})`));
  } catch (e) {
    if (gen === generation) list.replaceChildren(h("li", { class: "empty" }, e.message));
    return;
  }
  if (gen !== generation) return; // a later search's answer wins, whenever this one arrives
  if (!res.value.length) {
    list.replaceChildren(h("li", { class: "empty" }, `No user's name starts with “${q}”.`));
    return;
  }
  const memberIDs = new Set(members.map((m) => m.id));
  list.replaceChildren(...res.value.map((u) => {
    const isMember = memberIDs.has(u.id);
    const button = h("button", { type: "button", class: "btn btn-secondary btn-sm", disabled: isMember, "aria-label": `Add ${u.userPrincipalName}` }, isMember ? "Member" : "Add");
    button.addEventListener("click", () => addMember(u, button));
    return h("li", {}, h("div", { class: "grow" }, h("div", { class: "cell-main" }, u.displayName), h("div", { class: "cell-sub" }, u.userPrincipalName)), button);
  }));
}

$("#member-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 150);
});
$("#add-member-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  search();
});

onSubmit($("#group-form"), async () => {
  groupMessages.clear();
  const changes = {};
  const name = $("#edit-group-name").value.trim();
  const description = $("#edit-group-description").value.trim();
  if (name !== group.displayName) changes.displayName = name;
  if (description !== (group.description || "")) changes.description = description;
  if (!name) {
    groupMessages.fieldError("#edit-group-name", "a group needs one");
    return;
  }
  if (!Object.keys(changes).length) {
    groupMessages.saved("Nothing to save: no changes.");
    return;
  }
  try {
    group = await patch(base, changes);
    render();
    groupMessages.saved("Group saved.");
  } catch (e) {
    groupMessages.error(e);
  }
});

$("#delete-group").addEventListener("click", async () => {
  const ok = await confirmDialog({
    title: `Delete the group ${group ? group.displayName : ""}?`,
    message: "Its members stay; policies that target this group must not name it any more. This cannot be undone.",
    confirmLabel: "Delete group",
  });
  if (!ok) return;
  groupMessages.clear();
  try {
    await del(base);
    flash("success", `Group ${group.displayName} deleted.`);
    location.assign("/admin/groups");
  } catch (e) {
    groupMessages.error(e.message); // beside the Delete button
  }
});

if (!may("directory")) {
  readOnly([$("#group-form")], needs("directory", "changing this group"));
  readOnly([$("#add-member-form"), $("#members")], needs("directory", "changing the members"));
}

const f = takeFlash();
if (f) toast(f.message, f.kind);

get(base).then((g) => {
  group = g;
  render();
  return Promise.all([loadMembers(), showPolicyRole()]);
}).catch((e) => {
  setAlert(pageError, e.message);
  show($("#add-member-form"), false);
});

// Admin center — one application: the settings to paste into the app
// (client ID, issuer and endpoints, each with a copy button), properties
// (name, redirect URIs, groups claim, signing algorithm, access token type), client secrets
// (added and shown once, removed), assigned groups, deletion.
import { get, post, patch, del, odataString } from "./api.js";
import { $, h, show, setAlert, toast, confirmDialog, onSubmit, formatDate, takeFlash, flash } from "./ui.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const id = document.getElementById("main").dataset.id;
const base = "/api/v1/applications/" + encodeURIComponent(id);
const pageError = $("#page-error");
const appMessages = formMessages($("#app-form"), [
  { input: "#edit-app-name", names: ["displayName"] },
  { input: "#edit-redirects", names: ["web.redirectUris", "publicClient.redirectUris", "redirectUris"], words: /\bredirect URIs?\b/i },
  { input: "#edit-groups-claim", names: ["groupMembershipClaims"] },
  { input: "#edit-alg", names: ["tokenSigningAlgorithm"] },
  { input: "#edit-access-token-type", names: ["accessTokenType"] },
]);
const secretMessages = formMessages($("#secret-form"), [
  { input: "#secret-name", names: ["displayName"] },
  { input: "#secret-lifetime", names: ["endDateTime"] },
]);
const assignMessages = formMessages($("#assign-form"), [{ input: "#group-search", names: ["assignedGroups"] }],
  { actions: $("#group-results") });
let app = null;
let groupNames = new Map(); // assigned group ID → name
let searchTimer = 0;
let generation = 0;

const isPublic = () => !app.web.redirectUris.length;
const redirects = () => (isPublic() ? app.publicClient.redirectUris : app.web.redirectUris);

function render() {
  document.title = `${app.displayName} · Keyward`;
  $("#crumb").textContent = app.displayName;
  $("#app-title").textContent = app.displayName;
  $("#app-kind").textContent = isPublic()
    ? "Public client: no secret; it signs users in with PKCE."
    : "Web app: it signs users in with a client secret (and PKCE when it can).";
  $("#set-client-id").textContent = app.appId;
  $("#edit-app-name").value = app.displayName;
  $("#edit-redirects").value = redirects().join("\n");
  $("#edit-groups-claim").checked = !!app.groupMembershipClaims;
  $("#edit-alg").value = app.tokenSigningAlgorithm || "ES256";
  $("#edit-access-token-type").value = app.accessTokenType || "opaque";
  show($("#secrets-card"), !isPublic());
  renderSecrets();
  renderAssigned();
}

// The issuer and endpoints come from discovery: what the app itself will read.
async function loadSettings() {
  const d = await get("/.well-known/openid-configuration");
  const set = (el, v) => { $(el).textContent = v || "—"; };
  set("#set-issuer", d.issuer);
  set("#set-discovery", d.issuer + "/.well-known/openid-configuration");
  set("#set-authorize", d.authorization_endpoint);
  set("#set-token", d.token_endpoint);
  set("#set-userinfo", d.userinfo_endpoint);
  set("#set-jwks", d.jwks_uri);
  set("#set-logout", d.end_session_endpoint);
}

function renderSecrets() {
  const box = $("#secrets");
  const secrets = app.passwordCredentials || [];
  if (!secrets.length) {
    box.replaceChildren(h("p", { class: "empty" }, "No client secrets. Add one for the app to sign in with."));
    return;
  }
  box.replaceChildren(h("table", { class: "table", id: "secrets-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Secret"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
    h("tbody", {}, secrets.map((s) => h("tr", { dataset: { keyId: s.keyId } },
      h("td", {}, h("div", { class: "cell-main" }, s.displayName || "Unnamed secret"),
        h("div", { class: "cell-sub" }, h("span", { class: "mono" }, s.hint + "…"), ` · expires ${formatDate(s.endDateTime)}`)),
      h("td", { class: "actions" }, h("button", {
        type: "button", class: "btn btn-link danger", "aria-label": `Remove the secret ${s.displayName || s.hint}`, onclick: () => removeSecret(s),
      }, "Remove")))))));
}

async function removeSecret(s) {
  const ok = await confirmDialog({
    title: `Remove the secret ${s.displayName || s.hint + "…"}?`,
    message: "The app can no longer sign in with it. Put another secret in its settings first.",
    confirmLabel: "Remove secret",
  });
  if (!ok) return;
  secretMessages.clear();
  try {
    await post(base + "/removePassword", { keyId: s.keyId });
    app = await get(base);
    show($("#secret-result"), false);
    render();
    secretMessages.saved("Secret removed.");
  } catch (e) {
    secretMessages.error(e.message);
  }
}

onSubmit($("#secret-form"), async () => {
  secretMessages.clear();
  const days = Number($("#secret-lifetime").value);
  const end = new Date(Date.now() + days * 86400000).toISOString().replace(/\.\d+Z$/, "Z");
  try {
    const s = await post(base + "/addPassword", { passwordCredential: { displayName: $("#secret-name").value.trim(), endDateTime: end } });
    $("#secret-value").textContent = s.secretText;
    show($("#secret-result"), true);
    $("#secret-name").value = "";
    app = await get(base);
    render();
    secretMessages.saved("Secret added. Copy it now.");
  } catch (e) {
    secretMessages.error(e);
  }
});

async function loadGroupNames() {
  groupNames = new Map(await Promise.all((app.assignedGroups || []).map(async (g) => {
    try {
      return [g, (await get("/api/v1/groups/" + encodeURIComponent(g))).displayName];
    } catch {
      return [g, groupNames.get(g) || g]; // a deleted group shows by its ID
    }
  })));
}

function renderAssigned() {
  const groups = app.assignedGroups || [];
  $("#assign-summary").textContent = groups.length
    ? "Only members of these groups may sign in to this app; others see a page saying they are not assigned."
    : "Everyone may sign in to this app. Assign groups to let in only their members.";
  const list = $("#assigned");
  show(list, groups.length > 0);
  list.replaceChildren(...groups.map((g) => h("li", {},
    h("div", { class: "grow" }, h("a", { class: "cell-main", href: "/admin/groups/" + encodeURIComponent(g) }, groupNames.get(g) || g)),
    h("button", { type: "button", class: "btn btn-link danger", "aria-label": `Unassign ${groupNames.get(g) || g}`, onclick: () => setAssigned(groups.filter((x) => x !== g)) }, "Unassign"))));
}

async function setAssigned(groups) {
  assignMessages.clear();
  try {
    app = await patch(base, { assignedGroups: groups });
    await loadGroupNames();
    render();
    search();
    assignMessages.saved(groups.length ? "Assignments saved." : "No groups assigned: everyone may sign in.");
  } catch (e) {
    assignMessages.error(e);
  }
}

async function search() {
  const gen = ++generation;
  const q = $("#group-search").value.trim();
  const list = $("#group-results");
  if (!q) {
    list.replaceChildren();
    return;
  }
  let res;
  try {
    res = await get("/api/v1/groups?$top=8&$filter=" + encodeURIComponent(`startswith(displayName,${odataString(q)})`));
  } catch (e) {
    if (gen === generation) list.replaceChildren(h("li", { class: "empty" }, e.message));
    return;
  }
  if (gen !== generation) return;
  if (!res.value.length) {
    list.replaceChildren(h("li", { class: "empty" }, `No group's name starts with “${q}”.`));
    return;
  }
  const assigned = new Set(app.assignedGroups || []);
  list.dataset.query = q; // which search these results answer
  list.replaceChildren(...res.value.map((g) => {
    const has = assigned.has(g.id);
    const button = h("button", { type: "button", class: "btn btn-secondary btn-sm", disabled: has, "aria-label": `Assign ${g.displayName}` }, has ? "Assigned" : "Assign");
    button.addEventListener("click", () => {
      button.disabled = true;
      groupNames.set(g.id, g.displayName);
      setAssigned([...(app.assignedGroups || []), g.id]);
    });
    return h("li", {}, h("div", { class: "grow" }, h("div", { class: "cell-main" }, g.displayName), h("div", { class: "cell-sub" }, g.description || "")), button);
  }));
}

$("#group-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 150);
});
$("#assign-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  search();
});

onSubmit($("#app-form"), async () => {
  appMessages.clear();
  const changes = {};
  const name = $("#edit-app-name").value.trim();
  if (name !== app.displayName) changes.displayName = name;
  const uris = $("#edit-redirects").value.split("\n").map((s) => s.trim()).filter(Boolean);
  if (uris.join("\n") !== redirects().join("\n")) changes[isPublic() ? "publicClient" : "web"] = { redirectUris: uris };
  if ($("#edit-groups-claim").checked !== !!app.groupMembershipClaims) changes.groupMembershipClaims = $("#edit-groups-claim").checked;
  if ($("#edit-alg").value !== (app.tokenSigningAlgorithm || "ES256")) changes.tokenSigningAlgorithm = $("#edit-alg").value;
  if ($("#edit-access-token-type").value !== (app.accessTokenType || "opaque")) changes.accessTokenType = $("#edit-access-token-type").value;
  if (!name) {
    appMessages.fieldError("#edit-app-name", "an application needs one");
    return;
  }
  if (!Object.keys(changes).length) {
    appMessages.saved("Nothing to save: no changes.");
    return;
  }
  try {
    app = await patch(base, changes);
    render();
    appMessages.saved("Application saved.");
  } catch (e) {
    appMessages.error(e);
  }
});

$("#delete-app").addEventListener("click", async () => {
  const ok = await confirmDialog({
    title: `Delete the application ${app ? app.displayName : ""}?`,
    message: "Its users can no longer sign in to it, and every token issued to it stops working at once. This cannot be undone.",
    confirmLabel: "Delete application",
  });
  if (!ok) return;
  appMessages.clear();
  try {
    await del(base);
    flash("success", `Application ${app.displayName} deleted.`);
    location.assign("/admin/applications");
  } catch (e) {
    appMessages.error(e.message); // beside the Delete button
  }
});

if (!may("applications")) {
  readOnly([$("#app-form")], needs("applications", "changing this application"));
  readOnly([$("#secret-form")], needs("applications", "adding and removing secrets"));
  readOnly([$("#assign-form")], needs("applications", "assigning groups"));
}

const f = takeFlash();
if (f) toast(f.message, f.kind);
try {
  app = await get(base);
  await loadGroupNames();
  render();
  await loadSettings();
} catch (e) {
  setAlert(pageError, e.message);
}

// Admin center — conditional access: policies with a JSON editor and the
// what-if beside it, authentication strengths with a key-model picker, named
// locations, and the emergency-account lint.
import { get, post, del, getVersioned, patchIfMatch, ApiError } from "./api.js";
import { $, h, show, setAlert, onSubmit, badge } from "./ui.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const base = "/api/v1/identity/conditionalAccess";
const ADMIN_APP = "4b455957-0000-4000-8000-000000000001";
const MY_APP = "4b455957-0000-4000-8000-000000000002";
const COMBOS = ["fido2", "password,softwareOath", "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse", "password"];
const TEMPLATE = {
  displayName: "Phishing-resistant MFA for administrators",
  state: "enabledForReportingButNotEnforced",
  conditions: {
    users: { includeRoles: ["global-admin"], excludeUsers: [] },
    applications: { includeApplications: [ADMIN_APP] },
  },
  grantControls: { operator: "OR", authenticationStrength: { id: "00000000-0000-0000-0000-000000000004" } },
};

// Each form answers beside what caused it (form-messages.js); a table row's
// Delete answers under its table.
const editorMessages = formMessages($("#ca-editor-form"));
const whatIfMessages = formMessages($("#ca-whatif-form"), [
  { input: "#wi-user", names: ["userId"], words: /\bno user\b/i },
  { input: "#wi-app", names: ["appId"], words: /\bno application\b/i },
  { input: "#wi-aaguid", names: ["aaGuid"] },
  { input: "#wi-ip", names: ["ipAddress"] },
]);
const strengthMessages = formMessages($("#ca-strength-form"), [
  { input: "#st-name", names: ["displayName"] },
  { input: "#st-combos", names: ["allowedCombinations"] },
  { input: "#st-models", names: ["combinationConfigurations", "allowedAAGUIDs"] },
]);
const locationMessages = formMessages($("#ca-location-form"), [
  { input: "#loc-name", names: ["displayName"] },
  { input: "#loc-ranges", names: ["ipRanges"] },
]);
const strengthsMessages = formMessages($("#ca-strengths").closest("section"), [], { actions: $("#ca-strengths"), id: "ca-strengths" });
const locationsMessages = formMessages($("#ca-locations").closest("section"), [], { actions: $("#ca-locations"), id: "ca-locations" });

// problemsOf splits the API's refusal of a document ("the named location
// was not saved; 2 problems: displayName: must not be empty; ipRanges[0]
// .cidrAddress: …") into its problems; a message that is not one is one
// problem.
function problemsOf(msg) {
  const m = /^.*? was not (?:saved|evaluated)(?:; \d+ problems?)?: ([\s\S]*)$/i.exec(msg);
  return m ? m[1].split(/; (?=[\w@.[\]]+: )/) : [msg];
}

// showProblems puts each problem beside the field it is about: the path is
// cut to the field (ipRanges[1].cidrAddress → ipRanges; the quoted value
// says which range), and the problems of one field are shown together.
// others names, by label, the fields a problem mentions besides its own
// ({allowedCombinations: "Allowed combinations"}).
function showProblems(messages, e, others = {}) {
  messages.clear();
  const byField = new Map();
  for (const p of problemsOf(e.message)) {
    const m = /^([\w@]+)[\w@.[\]]*: ([\s\S]*)$/.exec(p);
    let [field, what] = m ? [m[1], m[2]] : ["", p];
    for (const [name, label] of Object.entries(others)) what = what.replace(new RegExp(`\\b${name}\\b`, "g"), label.toLowerCase());
    byField.set(field, [...(byField.get(field) || []), what]);
  }
  for (const [field, whats] of byField) messages.error(field ? `${field}: ${whats.join("; ")}` : whats.join("; "));
}

let editing = null; // {id, etag} of the policy in the editor, null for a new one
let strengths = [];
const models = new Map();

function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows));
}

const stateBadge = (s) => s === "enabled" ? badge("On", "success") : s === "disabled" ? badge("Off") : badge("Report-only", "info");

function requirement(p) {
  const g = p.grantControls || {};
  if ((g.builtInControls || []).includes("block")) return "Block";
  if ((g.builtInControls || []).includes("mfa")) return "Multifactor authentication";
  if (g.authenticationStrength) return g.authenticationStrength.displayName || g.authenticationStrength.id;
  return "Sign-in frequency";
}

async function loadPolicies() {
  const { value } = await get(base + "/policies");
  $("#ca-policies").replaceChildren(table(["Name", "State", "Requires"], value.map((p) =>
    h("tr", { dataset: { policyId: p.id } },
      h("td", {}, h("button", { type: "button", class: "btn-link", onclick: () => edit(p.id) }, p.displayName)),
      h("td", {}, stateBadge(p.state)), h("td", {}, requirement(p)))), "No policies yet. Every sign-in is granted."));
}

async function loadLint() {
  const { value } = await get(base + "/lint");
  const el = $("#ca-lint");
  show(el, value.length > 0);
  el.replaceChildren(...value.map((f) => h("p", {}, `The ${f.kind} “${f.displayName}” affects the emergency-access account(s) ${f.accounts.join(", ")}.`)));
}

async function loadStrengths() {
  strengths = (await get(base + "/authenticationStrength/policies")).value;
  $("#ca-strengths").replaceChildren(table(["Name", "Type", "Combinations", ""], strengths.map((s) => {
    const keys = (s.combinationConfigurations || []).flatMap((c) => c.allowedAAGUIDs || []);
    return h("tr", { dataset: { strengthId: s.id } },
      h("td", { class: "cell-main" }, s.displayName),
      h("td", {}, s.policyType === "builtIn" ? badge("Built-in") : badge("Custom", "info")),
      h("td", {}, s.allowedCombinations.join("; ") + (keys.length ? " — only " + keys.map((k) => models.get(k) || k).join(", ") : "")),
      h("td", {}, s.policyType === "custom" ? h("button", { type: "button", class: "btn btn-secondary btn-sm",
        "aria-label": "Delete " + s.displayName,
        onclick: () => remove(base + "/authenticationStrength/policies/" + s.id, `“${s.displayName}”`, strengthsMessages) }, "Delete") : ""));
  }), ""));
}

async function loadLocations() {
  const { value } = await get(base + "/namedLocations");
  $("#ca-locations").replaceChildren(table(["Name", "Ranges", ""], value.map((l) =>
    h("tr", { dataset: { locationId: l.id } },
      h("td", { class: "cell-main" }, l.displayName, l.isTrusted ? [" ", badge("Trusted", "success")] : ""),
      h("td", { class: "mono" }, l.ipRanges.map((r) => r.cidrAddress).join(" ")),
      h("td", {}, h("button", { type: "button", class: "btn btn-secondary btn-sm",
        "aria-label": "Delete " + l.displayName,
        onclick: () => remove(base + "/namedLocations/" + l.id, `“${l.displayName}”`, locationsMessages) }, "Delete")))), "No named locations."));
}

// remove deletes what path names and says so with messages: under its
// table for a row's Delete, beside the button for the editor's.
async function remove(path, name, messages) {
  messages.clear();
  try {
    await del(path);
    await reload();
    messages.saved(`${name} deleted.`);
    return true;
  } catch (e) {
    messages.error(e.message);
    return false;
  }
}

async function reload() {
  await Promise.all([loadPolicies(), loadLint(), loadStrengths(), loadLocations()]);
}

// checkDraft asks which emergency-access accounts the policy in the editor
// would take in, and says so beside it before anything is saved (the save
// would be refused for them unless forced). Only the answer to the latest
// text counts.
let draftCheck = 0;
async function checkDraft() {
  const warning = $("#ca-editor-warning");
  const mine = ++draftCheck;
  let doc;
  try {
    doc = JSON.parse($("#ca-editor").value);
  } catch {
    if (mine === draftCheck) setAlert(warning, "");
    return;
  }
  let accounts = [];
  try {
    ({ affectedAccounts: accounts } = await post(base + "/lint", doc));
  } catch {
    accounts = []; // not a policy yet: Save says what is wrong
  }
  if (mine !== draftCheck) return;
  setAlert(warning, accounts.length
    ? `This policy would apply to the emergency-access account(s) ${accounts.join(", ")}. Exclude them (directly or through a group) so they can always get in; saving as it is needs “Save anyway”, which is audited.`
    : "");
}
let draftTimer = null;
$("#ca-editor").addEventListener("input", () => {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(checkDraft, 300);
});

function newPolicy() {
  editing = null;
  $("#ca-editor-title").textContent = "New policy";
  $("#ca-editor").value = JSON.stringify(TEMPLATE, null, 2);
  show($("#ca-delete"), false);
  show($("#ca-force"), false);
  editorMessages.clear();
  checkDraft();
}

async function edit(id) {
  const { data, etag } = await getVersioned(base + "/policies/" + id);
  editing = { id, etag };
  for (const k of ["id", "createdDateTime", "modifiedDateTime"]) delete data[k];
  if (data.grantControls?.authenticationStrength) delete data.grantControls.authenticationStrength.displayName;
  $("#ca-editor-title").textContent = "Edit " + data.displayName;
  $("#ca-editor").value = JSON.stringify(data, null, 2);
  show($("#ca-delete"), true);
  show($("#ca-force"), false);
  editorMessages.clear();
  checkDraft();
  $("#ca-editor").focus();
}

// save sends the editor's policy. What the policy itself is refused for
// (its JSON, a field in it, an emergency-access account) sits beside the
// editor, naming the JSON path, which is what the person edits; what no
// field owns (someone else changed it meanwhile) beside Save.
async function save(force) {
  editorMessages.clear();
  show($("#ca-force"), false);
  let doc;
  try {
    doc = JSON.parse($("#ca-editor").value);
  } catch (e) {
    editorMessages.fieldError("#ca-editor", "not valid JSON: " + e.message);
    return;
  }
  const q = force ? "?force=true" : "";
  try {
    if (editing) await patchIfMatch(base + "/policies/" + editing.id + q, doc, editing.etag);
    else await post(base + "/policies" + q, doc);
    newPolicy();
    await reload();
    editorMessages.saved(`Policy “${doc.displayName || ""}” saved.`);
  } catch (e) {
    const emergency = e instanceof ApiError && e.code === "emergencyAccountAffected";
    if (emergency || (e instanceof ApiError && e.status === 400)) editorMessages.fieldError("#ca-editor", problemsOf(e.message).join("; "));
    else editorMessages.error(e.message);
    if (emergency) show($("#ca-force"), true);
  }
}

onSubmit($("#ca-editor-form"), () => save(false));
$("#ca-force").addEventListener("click", () => save(true));
$("#ca-new-policy").addEventListener("click", newPolicy);
$("#ca-delete").addEventListener("click", async () => {
  if (!editing) return;
  const name = $("#ca-editor-title").textContent.replace(/^Edit /, "");
  editorMessages.clear();
  try {
    await del(base + "/policies/" + editing.id);
  } catch (e) {
    editorMessages.error(e.message);
    return;
  }
  newPolicy();
  await reload();
  editorMessages.saved(`Policy “${name}” deleted.`);
});

onSubmit($("#ca-whatif-form"), async () => {
  whatIfMessages.clear();
  const methods = ["#wi-fido2", "#wi-password", "#wi-otp", "#wi-tap"].map((s) => $(s)).filter((c) => c.checked).map((c) => c.value);
  const body = { userId: $("#wi-user").value.trim(), appId: $("#wi-app").value, authenticationMethods: methods,
    aaGuid: $("#wi-aaguid").value.trim(), ipAddress: $("#wi-ip").value.trim() };
  try {
    const r = await post(base + "/evaluate", body);
    const words = { grant: "Granted", block: "Blocked", stepUp: "Step-up required" };
    $("#ca-whatif-result").replaceChildren(
      h("p", { class: "cell-main", id: "ca-whatif-decision" }, words[r.decision] || r.decision),
      r.requiredStrengths.map((s) => h("p", {}, "Needs " + s.displayName +
        (s.allowedAAGUIDs.length ? " with a key of model " + s.allowedAAGUIDs.map((k) => models.get(k) || k).join(" or ") : ""))),
      table(["Policy", "Result"], r.policies.map((p) => h("tr", {}, h("td", {}, p.displayName), h("td", {}, p.result))), "No policies."));
  } catch (e) {
    $("#ca-whatif-result").replaceChildren();
    showProblems(whatIfMessages, e);
  }
});

onSubmit($("#ca-strength-form"), async () => {
  strengthMessages.clear();
  const combos = COMBOS.filter((c) => $(`#st-combos input[value="${c}"]`).checked);
  const keys = Array.from($("#st-models").selectedOptions).map((o) => o.value);
  const body = { displayName: $("#st-name").value.trim(), allowedCombinations: combos };
  if (keys.length) body.combinationConfigurations = [{ "@odata.type": "#microsoft.graph.fido2CombinationConfiguration",
    appliesToCombinations: ["fido2"], allowedAAGUIDs: keys }];
  try {
    await post(base + "/authenticationStrength/policies", body);
    $("#ca-strength-form").reset();
    await reload();
    strengthMessages.saved(`Strength “${body.displayName}” created.`);
  } catch (e) {
    showProblems(strengthMessages, e, { allowedCombinations: "Allowed combinations" });
  }
});

onSubmit($("#ca-location-form"), async () => {
  locationMessages.clear();
  const name = $("#loc-name").value.trim();
  const ranges = $("#loc-ranges").value.split(/\s+/).filter(Boolean).map((c) => ({ cidrAddress: c }));
  try {
    await post(base + "/namedLocations", { displayName: name, ipRanges: ranges, isTrusted: $("#loc-trusted").checked });
    $("#ca-location-form").reset();
    await reload();
    locationMessages.saved(`Named location “${name}” created.`);
  } catch (e) {
    showProblems(locationMessages, e);
  }
});

// Conditional access is changed by global administrators only (the API's
// routes); every admin role reads it and may try the what-if, which changes
// nothing.
if (!may("conditionalAccess")) {
  readOnly([$("#ca-new-policy"), $("#ca-editor-form"), $("#ca-strengths"), $("#ca-strength-form"), $("#ca-locations"), $("#ca-location-form")],
    needs("conditionalAccess", "changing conditional access (policies, authentication strengths, named locations)"), { noteAfter: $(".page-header") });
}

async function init() {
  $("#st-combos").append(...COMBOS.map((c, i) => h("div", { class: "check" },
    h("input", { id: "st-combo-" + i, type: "checkbox", value: c, checked: c === "fido2" }), h("label", { for: "st-combo-" + i }, c))));
  const apps = [[ADMIN_APP, "Keyward admin"], [MY_APP, "My security info"]];
  try {
    for (const a of (await get("/api/v1/applications")).value) apps.push([a.appId, a.displayName]);
  } catch { /* readers may list apps too; without them the built-ins remain */ }
  $("#wi-app").replaceChildren(...apps.map(([id, name]) => h("option", { value: id }, name)));
  try {
    for (const m of (await get("/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2/modelCatalog")).value) {
      models.set(m.aaGuid, m.model);
      $("#st-models").append(h("option", { value: m.aaGuid }, `${m.model} (${m.aaGuid})`));
    }
  } catch { /* no catalog: strengths are shown by AAGUID */ }
  newPolicy();
  await reload();
}
init();

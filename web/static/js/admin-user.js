// Admin center — one user: profile (name, email, enabled, emergency access,
// admin role), password reset, Temporary Access Pass, their passkeys (list,
// delete, register a key on their behalf from this browser), deletion.
import { get, post, patch, del } from "./api.js";
import { supported, creationOptions, credentialJSON, explain } from "./webauthn.js";
import { $, h, show, setAlert, toast, confirmDialog, formatDate, onSubmit, badge, flash, takeFlash, methodIcon } from "./ui.js";
import { passkeyKind } from "./passkeys.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const id = document.getElementById("main").dataset.id;
const base = "/api/v1/users/" + encodeURIComponent(id);
const pageError = $("#page-error");
let user = null;
const profileMessages = formMessages($("#profile-form"), [
  { input: "#edit-display-name", names: ["displayName"] },
  { input: "#edit-mail", names: ["mail"] },
  { input: "#edit-role", names: ["adminRole"], words: /\brole\b/i },
  { input: "#edit-enabled", names: ["accountEnabled"] },
  { input: "#edit-emergency", names: ["isEmergencyAccess"], words: /\bemergency\b/i },
]);
const passwordMessages = formMessages($("#password-form"), [
  { input: "#reset-password", names: ["passwordProfile", "password"], words: /\bpassword\b/i },
]);
const tapMessages = formMessages($("#tap-form"), [
  { input: "#tap-lifetime", names: ["lifetimeInMinutes"] },
  { input: "#tap-start", names: ["startDateTime"] },
  { input: "#tap-once", names: ["isUsableOnce"] },
]);
const provisionMessages = formMessages($("#provision-form"), [{ input: "#provision-name", names: ["displayName"] }]);
// What a row's action (delete, clear a flag) answers sits under the table.
const keysMessages = formMessages($("#keys").closest("section"), [], { actions: $("#keys"), id: "keys" });

function render() {
  const name = user.displayName || user.userPrincipalName;
  document.title = `${name} · Keyward`;
  $("#crumb").textContent = name;
  $("#user-title").textContent = name;
  $("#user-upn").textContent = user.userPrincipalName;
  const badges = [user.accountEnabled ? badge("Enabled", "success") : badge("Disabled", "danger")];
  if (user.isEmergencyAccess) badges.push(badge("Emergency access", "warning"));
  if (user.adminRole) badges.push(badge($(`#edit-role option[value="${CSS.escape(user.adminRole)}"]`)?.textContent || user.adminRole, "info"));
  $("#user-badges").replaceChildren(...badges);
  $("#edit-display-name").value = user.displayName || "";
  $("#edit-mail").value = user.mail || "";
  $("#edit-enabled").checked = !!user.accountEnabled;
  $("#edit-emergency").checked = !!user.isEmergencyAccess;
  $("#edit-role").value = user.adminRole || "";
}

async function loadUser() {
  user = await get(base);
  render();
}

// --- profile and password ---

onSubmit($("#profile-form"), async () => {
  profileMessages.clear();
  const changes = {};
  const name = $("#edit-display-name").value.trim();
  if (name !== (user.displayName || "")) changes.displayName = name;
  const mail = $("#edit-mail").value.trim();
  if (mail !== (user.mail || "")) changes.mail = mail;
  if ($("#edit-enabled").checked !== !!user.accountEnabled) changes.accountEnabled = $("#edit-enabled").checked;
  if ($("#edit-emergency").checked !== !!user.isEmergencyAccess) changes.isEmergencyAccess = $("#edit-emergency").checked;
  if ($("#edit-role").value !== (user.adminRole || "")) changes.adminRole = $("#edit-role").value;
  if (!name) {
    profileMessages.fieldError("#edit-display-name", "a user needs one");
    return;
  }
  if (!Object.keys(changes).length) {
    profileMessages.saved("Nothing to save: no changes.");
    return;
  }
  try {
    user = await patch(base, changes);
    render();
    profileMessages.saved("Profile saved.");
  } catch (e) {
    profileMessages.error(e);
  }
});

onSubmit($("#password-form"), async () => {
  passwordMessages.clear();
  const password = $("#reset-password").value;
  if (!password) {
    passwordMessages.fieldError("#reset-password", "enter the password to set");
    return;
  }
  try {
    await patch(base, { passwordProfile: { password } });
    $("#reset-password").value = "";
    passwordMessages.saved("Password set. Tell the user through a channel you trust.");
    loadKeys();
  } catch (e) {
    passwordMessages.error(e);
  }
});

// --- Temporary Access Pass ---

onSubmit($("#tap-form"), async () => {
  tapMessages.clear();
  const lifetime = Number($("#tap-lifetime").value);
  const once = $("#tap-once").checked;
  try {
    const body = { lifetimeInMinutes: lifetime, isUsableOnce: once };
    if ($("#tap-start").value) body.startDateTime = new Date($("#tap-start").value).toISOString();
    const tap = await post(base + "/authentication/temporaryAccessPassMethods", body);
    $("#tap-value").textContent = groupPass(tap.temporaryAccessPass);
    const start = tap.startDateTime ? new Date(tap.startDateTime) : new Date();
    const until = new Date(start.getTime() + (tap.lifetimeInMinutes || lifetime) * 60000);
    const from = start > new Date() ? `Valid from ${formatDate(start.toISOString())} until` : "Valid until";
    $("#tap-details").textContent = `${from} ${formatDate(until.toISOString())} · ${(tap.isUsableOnce ?? once) ? "one-time use" : "can be used more than once"}.`;
    show($("#tap-result"), true);
    loadKeys();
  } catch (e) {
    tapMessages.error(e);
  }
});

// --- sign-in methods ---

function deleteButton(label, onclick) {
  return h("button", { type: "button", class: "btn btn-link danger", "aria-label": label, onclick }, "Delete");
}

function keyRow(k) {
  const type = passkeyKind(k);
  const attested = k.cloneWarning ? badge("Possible clone", "danger")
    : k.attestationLevel === "attested" ? badge("Attested", "success") : badge("Not attested");
  const actions = [deleteButton(`Delete ${k.displayName}`, () => deleteMethod(
    k.displayName, "/fido2Methods/" + encodeURIComponent(k.id),
    `${userName()} will no longer be able to sign in with this key.`))];
  if (k.cloneWarning) actions.unshift(clearFlagButton(k));
  return h("tr", { dataset: { methodId: k.id } },
    h("td", {}, h("div", { class: "method-cell" }, methodIcon("passkey"), h("div", {},
      h("div", { class: "cell-main" }, k.displayName), h("div", { class: "cell-sub" }, `${k.model || "Unknown model"} · ${type}`),
      h("div", { class: "cell-sub mono aaguid" }, k.aaGuid),
      k.cloneWarning ? h("div", { class: "cell-sub danger" }, "Refused at sign-in: its signature counter went backwards, which can mean the key was cloned.") : null))),
    h("td", { class: "hide-sm" }, attested),
    h("td", { class: "hide-sm" }, formatDate(k.createdDateTime, "—")),
    h("td", { class: "hide-sm" }, formatDate(k.lastUsedDateTime)),
    h("td", { class: "actions" }, ...actions));
}

// clearFlagButton lifts a key's possible-clone flag after the admin checked it.
function clearFlagButton(k) {
  return h("button", { type: "button", class: "btn btn-link", "data-adds-method": "", "aria-label": `Clear the possible-clone flag of ${k.displayName}`, onclick: async () => {
    const ok = await confirmDialog({ title: `Clear the flag of “${k.displayName}”?`,
      message: `Only if you have checked that ${userName()} still holds this key and nobody copied it: the key signs in again.`, confirmLabel: "Clear flag" });
    if (!ok) return;
    keysMessages.clear();
    try {
      await patch(base + "/authentication/fido2Methods/" + encodeURIComponent(k.id), { cloneWarning: false });
      keysMessages.saved(`Cleared the flag of “${k.displayName}”.`);
      await loadKeys();
    } catch (e) {
      keysMessages.error(e.message);
    }
  } }, "Clear flag");
}

function appRow(app) {
  return h("tr", { dataset: { methodId: "authenticatorApp" } },
    h("td", {}, h("div", { class: "method-cell" }, methodIcon("app"), h("div", {},
      h("div", { class: "cell-main" }, "Authenticator app"), h("div", { class: "cell-sub" }, "Time-based one-time codes")))),
    h("td", { class: "hide-sm" }, badge("Confirmed", "success")),
    h("td", { class: "hide-sm" }, formatDate(app.createdDateTime, "—")),
    h("td", { class: "hide-sm" }, formatDate(app.lastUsedDateTime)),
    h("td", { class: "actions" }, deleteButton("Delete the authenticator app", () => deleteMethod(
      "the authenticator app", "/softwareOathMethods/authenticatorApp",
      `${userName()} will need to set up the app again to sign in with codes.`))));
}

// groupPass writes a pass in groups of four (GP44-QHZT-RJ5T-6GZ3), easier
// to read aloud and to type; the sign-in page ignores the dashes.
const groupPass = (p) => (p || "").match(/.{1,4}/g)?.join("-") || "";

const tapStates = { EnabledByPolicy: ["Usable", "success"], Expired: ["Expired", ""], NotYetValid: ["Not yet valid", "warning"], OneTimeUsed: ["Used", ""] };

function tapRow(tap) {
  const start = new Date(tap.startDateTime);
  const until = new Date(start.getTime() + tap.lifetimeInMinutes * 60000);
  const [label, kind] = tapStates[tap.methodUsabilityReason] || [tap.isUsable ? "Usable" : "Not usable", tap.isUsable ? "success" : ""];
  return h("tr", { dataset: { methodId: tap.id } },
    h("td", {}, h("div", { class: "method-cell" }, methodIcon("tap"), h("div", {},
      h("div", { class: "cell-main" }, "Temporary Access Pass"),
      h("div", { class: "cell-sub" }, tap.methodUsabilityReason === "OneTimeUsed" && tap.lastUsedDateTime
        ? `Used ${formatDate(tap.lastUsedDateTime)} · one-time use`
        : `${start > new Date() ? `Valid from ${formatDate(start.toISOString())} until` : "Valid until"} ${formatDate(until.toISOString())} · ${tap.isUsableOnce ? "one-time use" : "multi-use"}`)))),
    h("td", { class: "hide-sm" }, badge(label, kind)),
    h("td", { class: "hide-sm" }, formatDate(tap.createdDateTime, "—")),
    h("td", { class: "hide-sm" }, formatDate(tap.lastUsedDateTime)),
    h("td", { class: "actions" }, deleteButton("Delete the Temporary Access Pass", () => deleteMethod(
      "the Temporary Access Pass", "/temporaryAccessPassMethods/" + encodeURIComponent(tap.id),
      `${userName()} will no longer be able to sign in with this pass.`))));
}

const userName = () => (user ? user.displayName || user.userPrincipalName : "The user");

// showPasswordCard titles the password card by what it will do: reset a
// password the user has, or give one to a user who has none.
function showPasswordCard(hasPassword) {
  $("#password-title").textContent = hasPassword ? "Reset password" : "Set a password";
  $("#password-state").textContent = hasPassword ? "The user has a password. A new one replaces it." : "The user has no password.";
}

async function loadKeys() {
  const box = $("#keys");
  try {
    const auth = base + "/authentication";
    const [keys, apps, taps, passwords] = await Promise.all([
      get(auth + "/fido2Methods"),
      get(auth + "/softwareOathMethods").catch(() => ({ value: [] })),
      get(auth + "/temporaryAccessPassMethods").catch(() => ({ value: [] })),
      get(auth + "/passwordMethods").catch(() => ({ value: [] })),
    ]);
    const hasPassword = (passwords.value || []).length > 0;
    showPasswordCard(hasPassword);
    const rows = [...(apps.value || []).map(appRow), ...(taps.value || []).map(tapRow), ...keys.value.map(keyRow)];
    if (!rows.length) {
      box.replaceChildren(h("p", { class: "empty", id: "no-methods" }, hasPassword
        ? "No sign-in methods besides a password yet. Issue a Temporary Access Pass so the user can set up a passkey."
        : "No sign-in methods yet: this user cannot sign in. Issue a Temporary Access Pass so they can sign in and set up a passkey, or set a password."));
      return;
    }
    box.replaceChildren(h("table", { class: "table", id: "keys-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Method"), h("th", { scope: "col", class: "hide-sm" }, "State"),
        h("th", { scope: "col", class: "hide-sm" }, "Added"), h("th", { scope: "col", class: "hide-sm" }, "Last used"),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, rows)));
  } catch (e) {
    box.replaceChildren(h("div", { class: "alert alert-error", role: "alert" }, e.message));
  }
}

async function deleteMethod(what, path, consequence) {
  const ok = await confirmDialog({ title: `Delete ${what.startsWith("the ") ? what : `“${what}”`}?`, message: consequence });
  if (!ok) return;
  keysMessages.clear();
  try {
    try {
      await del(base + "/authentication" + path);
    } catch (e) {
      // The user's last way to sign in: say so, and delete only when confirmed again.
      if (e.code !== "confirmationRequired") throw e;
      const sure = await confirmDialog({ title: `This is ${userName()}'s last way to sign in`, message: e.message,
        confirmLabel: "Delete anyway" });
      if (!sure) return;
      await del(base + "/authentication" + path + "?confirm=true");
    }
    keysMessages.saved(`Deleted ${what.startsWith("the ") ? what : `“${what}”`}.`);
    await loadKeys();
  } catch (e) {
    keysMessages.error(e.message);
  }
}

function toggleProvision(on) {
  show($("#provision"), on);
  $("#provision-open").setAttribute("aria-expanded", String(on));
  provisionMessages.clear();
  if (on) $("#provision-name").focus();
}
$("#provision-open").addEventListener("click", () => toggleProvision($("#provision").hidden));
$('[data-action="cancel-provision"]').addEventListener("click", () => toggleProvision(false));
if (!supported()) $("#provision-open").disabled = true;

onSubmit($("#provision-form"), async () => {
  provisionMessages.clear();
  try {
    const opts = await get(base + "/authentication/fido2Methods/creationOptions?challengeTimeoutInMinutes=5");
    let cred;
    try {
      cred = await navigator.credentials.create({ publicKey: creationOptions(opts.publicKey) });
    } catch (e) {
      provisionMessages.error(explain(e, true));
      return;
    }
    const k = await post(base + "/authentication/fido2Methods", {
      displayName: $("#provision-name").value.trim(), publicKeyCredential: credentialJSON(cred),
    });
    keysMessages.saved(`“${k.displayName}” registered for ${user.userPrincipalName}.`);
    $("#provision-name").value = "";
    toggleProvision(false);
    await loadKeys();
  } catch (e) {
    provisionMessages.error(e);
  }
});

// --- delete user ---

$("#delete-user").addEventListener("click", async () => {
  const ok = await confirmDialog({
    title: `Delete ${user ? user.userPrincipalName : "this user"}?`,
    message: "The user, their sign-in methods and their group memberships are removed. This cannot be undone.",
    confirmLabel: "Delete user",
  });
  if (!ok) return;
  try {
    await del(base);
    flash("success", `User ${user.userPrincipalName} deleted.`);
    location.assign("/admin/users");
  } catch (e) {
    setAlert(pageError, e.message);
  }
});

// --- groups and passkey policy ---

// loadScope shows the user's groups and whether — and under which passkey
// profiles, through which targets — the passkey policy covers them.
async function loadScope() {
  const [groups, cov] = await Promise.all([get(base + "/memberOf"), get(base + "/authentication/fido2Coverage")]);
  const list = $("#user-groups");
  list.replaceChildren(...(groups.value.length ? groups.value.map((g) => h("li", {},
    h("a", { href: "/admin/groups/" + encodeURIComponent(g.id) }, g.displayName)))
    : [h("li", { class: "muted" }, "Not a member of any group.")]));
  const names = (refs) => refs.map((r) => `“${r.displayName}”`).join(", ");
  let text;
  if (cov.covered) {
    text = [badge("Covered", "success"), ` Through ${cov.includedBy.map((r) => r.id === "all_users" ? "All users" : `group “${r.displayName}”`).join(" and ")}, ` +
      `under the passkey profile${cov.passkeyProfiles.length === 1 ? "" : "s"} ${names(cov.passkeyProfiles)}.`];
  } else if (cov.code === "methodDisabled") {
    text = [badge("Not covered", ""), " Passkeys are turned off for the organisation."];
  } else if (cov.code === "excludedByGroup") {
    text = [badge("Excluded", "danger"), ` Excluded by group “${cov.excludedBy.displayName}”` +
      (cov.includedBy.length ? `, although ${cov.includedBy.map((r) => r.id === "all_users" ? "All users" : `group “${r.displayName}”`).join(" and ")} is targeted: exclusion wins.` : ".")];
  } else {
    text = [badge("Not covered", ""), " None of the user's groups is targeted by the passkey policy."];
  }
  $("#passkey-coverage").replaceChildren(...text);
  $("#passkey-coverage").classList.remove("muted");
}

// --- start ---

const f = takeFlash();
if (f && f.kind === "error") setAlert(pageError, f.message);
else if (f) toast(f.message);

// applyTAPPolicy offers only the lifetimes the Temporary Access Pass policy
// allows, with its defaults chosen.
async function applyTAPPolicy() {
  const c = await get("/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass").catch(() => null);
  if (!c) return;
  const select = $("#tap-lifetime");
  for (const o of [...select.options]) if (Number(o.value) < c.minimumLifetimeInMinutes || Number(o.value) > c.maximumLifetimeInMinutes) o.remove();
  if (![...select.options].some((o) => Number(o.value) === c.defaultLifetimeInMinutes)) {
    select.append(h("option", { value: String(c.defaultLifetimeInMinutes) }, `${c.defaultLifetimeInMinutes} minutes (default)`));
  }
  select.value = String(c.defaultLifetimeInMinutes);
  $("#tap-once").checked = !!c.isUsableOnce;
}

// applyGrants shows read-only what the signed-in administrator's role may
// not change for this user: the profile and deletion (users), and the
// sign-in methods, where an administrator's are out of reach of lesser
// roles, and giving one a new way in (a pass, a key, clearing a clone
// flag) needs more than taking one away.
function applyGrants() {
  if (user.id === document.getElementById("main").dataset.me) {
    const self = "Nobody may issue a Temporary Access Pass for their own account or register a security key for it on their behalf: ask another administrator, or add your own passkey in My security info.";
    readOnly([$("#tap-form")], self);
    readOnly([$("#provision-open")], null);
  }
  if (!may("directory")) {
    readOnly([$("#profile-form")], needs("directory", "changing a user's profile and role"));
    readOnly([$("#delete-user")], needs("directory", "deleting a user"), { noteAfter: $("#delete-user").closest(".card-header").firstElementChild });
  }
  const admin = !!user.adminRole && user.adminRole !== "reader";
  const change = admin ? "methodsOfAdmins" : "methods";
  const add = admin ? "addMethodsToAdmins" : "methods";
  const whose = admin ? "an administrator's" : "this user's";
  if (!may(add)) {
    readOnly([$("#tap-form")], needs(add, `issuing a Temporary Access Pass for ${admin ? "an administrator" : "this user"}`));
    readOnly([$("#provision-open")], needs(add, `registering a security key for ${admin ? "an administrator" : "this user"}`),
      { noteAfter: $("#keys-title").nextElementSibling });
    readOnly([$("#keys")], null, { only: "[data-adds-method]" });
  }
  if (!may(change)) {
    readOnly([$("#password-form")], needs(change, `setting ${whose} password`));
    readOnly([$("#keys")], null);
  }
}

loadUser().then(() => {
  applyGrants();
  return Promise.all([loadKeys(), loadScope(), applyTAPPolicy()]);
}).catch((e) => {
  setAlert(pageError, e.message);
  for (const el of document.querySelectorAll("form button, #delete-user, #provision-open")) el.disabled = true;
});

// My security info: the user's sign-in methods, adding an authenticator app
// or a security key / passkey, renaming and deleting.
import { get, post, patch, del, ApiError, sentence } from "./api.js";
import { supported, creationOptions, credentialJSON, explain, isAbort, signalAccount } from "./webauthn.js";
import { $, $$, h, show, setAlert, toast, confirmDialog, modal, formatDate, onSubmit, methodIcon, limit } from "./ui.js";
import { passkeyKind } from "./passkeys.js";

const params = new URLSearchParams(location.search);
const panel = $("#add-panel");
const addButton = $("#add-method");
const addError = $("#add-error");
const notice = $("#page-notice");
const addSteps = ["add-choose", "add-totp", "add-passkey-mfa", "add-passkey-kind", "add-passkey-wait", "add-passkey-name"];

let me = null;
let methods = null;
let wantPasskey = false; // the user set out to add a key and is setting up MFA first
let added = null; // the passkey just registered, being named

// --- loading and the list ---

async function load() {
  [me, methods] = await Promise.all([get("/api/v1/me"), get("/api/v1/me/methods")]);
  renderMethods();
  addButton.disabled = false;
  // The browser's passkey list follows this one: deleted keys drop out,
  // a renamed account shows its new name.
  get("/api/v1/me/passkeys/signals").then(signalAccount, () => {});
}

function row(icon, title, sub, created, lastUsed, actions) {
  return h("tr", {},
    h("td", {}, h("div", { class: "method-cell" }, methodIcon(icon),
      h("div", {}, h("div", { class: "cell-main" }, title), sub.map((s) => h("div", { class: "cell-sub" }, s))))),
    h("td", { class: "hide-sm" }, created),
    h("td", { class: "hide-sm" }, lastUsed),
    h("td", { class: "actions" }, actions));
}

function renderMethods() {
  show($("#password-change"), !!(methods.password && methods.password.set));
  const rows = [];
  if (methods.password && methods.password.set) {
    rows.push(row("password", "Password", [methods.password.status], "—", "—", []));
  }
  const app = methods.authenticatorApp;
  if (app) {
    rows.push(row("app", "Authenticator app", [app.displayName || "Time-based one-time codes"],
      formatDate(app.createdDateTime, "—"), formatDate(app.lastUsedDateTime),
      [h("button", { type: "button", class: "btn btn-link danger", onclick: () => deleteApp() }, "Delete")]));
  }
  for (const p of methods.passkeys || []) {
    const sub = [[p.model || "Unknown model", passkeyKind(p)].join(" · ")];
    if (p.automaticallyCreated) sub.push("Created automatically by your browser or password manager when you signed in with your password");
    const actions = [
      h("button", { type: "button", class: "btn btn-link", onclick: () => rename(p), "aria-label": `Rename ${p.displayName}` }, "Rename"),
      " ",
      h("button", { type: "button", class: "btn btn-link danger", onclick: () => deletePasskey(p), "aria-label": `Delete ${p.displayName}` }, "Delete"),
    ];
    const tr = row("passkey", p.displayName, sub, formatDate(p.createdDateTime, "—"), formatDate(p.lastUsedDateTime), actions);
    tr.dataset.passkeyId = p.id;
    rows.push(tr);
  }
  const list = $("#methods");
  if (!rows.length) {
    list.replaceChildren(h("p", { class: "empty" }, "You have no sign-in methods yet. Add one to keep access to your account."));
  } else {
    list.replaceChildren(h("table", { class: "table", id: "methods-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Method"), h("th", { scope: "col", class: "hide-sm" }, "Added"),
        h("th", { scope: "col", class: "hide-sm" }, "Last used"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, rows)));
  }
  const n = rows.length;
  $("#methods-summary").textContent = n === 1 ? "1 method" : `${n} methods`;
}

// --- changing the password ---

const changeForm = $("#password-change-form");
const changeFields = ["current-password", "new-password", "new-password2"];

function changeError(id, msg) {
  setAlert($("#" + id + "-error"), msg);
  if (msg) $("#" + id).setAttribute("aria-invalid", "true");
  else $("#" + id).removeAttribute("aria-invalid");
}

onSubmit(changeForm, async () => {
  for (const f of changeFields) changeError(f, "");
  setAlert($("#password-changed"), "");
  setAlert($("#password-change-error"), "");
  const current = $("#current-password").value;
  const next = $("#new-password").value;
  const problems = [];
  if (!current) problems.push(["current-password", "Enter your current password."]);
  if ([...next].length < limit("minPassword")) problems.push(["new-password", `Choose a new password of at least ${limit("minPassword")} characters.`]);
  else if (next !== $("#new-password2").value) problems.push(["new-password2", "The two new passwords are not the same."]);
  if (problems.length) {
    for (const [f, msg] of problems) changeError(f, msg);
    $("#" + problems[0][0]).focus();
    return;
  }
  try {
    await post("/api/v1/me/password", { currentPassword: current, newPassword: next });
    for (const f of changeFields) $("#" + f).value = "";
    setAlert($("#password-changed"), "Your password was changed. Use the new one the next time you sign in with a password.");
  } catch (e) {
    // Each refusal goes beside the field it is about.
    const field = e.code === "invalidCurrentPassword" ? "current-password" : e.code === "invalidRequest" ? "new-password" : "";
    if (field) {
      changeError(field, e.message);
      $("#" + field).focus();
    } else {
      setAlert($("#password-change-error"), e.message);
    }
  }
});

// --- the add panel ---

function showAdd(step, focus) {
  show(panel, true);
  addButton.setAttribute("aria-expanded", "true");
  for (const s of addSteps) show(document.getElementById(s), s === step);
  const el = focus ? $(focus) : null;
  if (el) el.focus();
}

function closeAdd() {
  show(panel, false);
  addButton.setAttribute("aria-expanded", "false");
  setAlert(addError, "");
  wantPasskey = false;
  addButton.focus();
}

function openChooser() {
  setAlert(addError, "");
  const select = $("#method-choice");
  select.replaceChildren();
  const can = methods.canAdd || {};
  if (can.passkey && supported()) select.append(h("option", { value: "passkey" }, "Security key or passkey"));
  if (can.authenticatorApp && !methods.authenticatorApp) select.append(h("option", { value: "app" }, "Authenticator app"));
  const reasons = [];
  if (!can.passkey && can.passkeyReason) reasons.push(sentence(can.passkeyReason));
  if (can.passkey && !supported()) reasons.push("This browser can't use security keys or passkeys.");
  if (!select.options.length) reasons.push("There are no more methods you can add.");
  const note = $("#add-unavailable");
  note.textContent = reasons.join(" ");
  show(note, reasons.length > 0);
  show(select.closest(".field"), select.options.length > 0);
  $('#add-choose [type="submit"]').disabled = select.options.length === 0;
  showAdd("add-choose", select.options.length ? "#method-choice" : null);
}

addButton.addEventListener("click", () => {
  if (panel.hidden) openChooser();
  else closeAdd();
});
for (const b of $$('[data-action="cancel-add"]')) b.addEventListener("click", closeAdd);

onSubmit($("#add-choose"), async () => {
  if ($("#method-choice").value === "app") await startApp();
  else startPasskey();
});

// --- authenticator app ---

async function startApp() {
  setAlert(addError, "");
  try {
    const res = await post("/api/v1/me/authenticatorApp");
    const qr = $("#totp-qr");
    if (typeof res.qrCode === "string" && res.qrCode.startsWith("data:image/")) {
      qr.src = res.qrCode;
      show(qr, true);
    } else {
      show(qr, false);
    }
    $("#totp-secret").textContent = res.secret;
    $("#totp-verify-code").value = "";
    showAdd("add-totp", "#totp-verify-code");
  } catch (e) {
    setAlert(addError, e.message);
  }
}

onSubmit($("#add-totp"), async () => {
  setAlert(addError, "");
  const code = $("#totp-verify-code").value.replace(/\s+/g, "");
  if (!/^[0-9]{6}$/.test(code)) {
    setAlert(addError, "Enter the 6-digit code your authenticator app shows.");
    $("#totp-verify-code").focus();
    return;
  }
  try {
    await post("/api/v1/me/authenticatorApp/verify", { code });
  } catch (e) {
    setAlert(addError, e.message);
    $("#totp-verify-code").value = "";
    $("#totp-verify-code").focus();
    return;
  }
  toast("Authenticator app added.");
  adminCenterOpen();
  const continuing = wantPasskey;
  await load();
  if (continuing) startPasskey();
  else closeAdd();
});

// adminCenterOpen tells an administrator whom the admin center sent here for
// a second factor that verifying the app made this sign-in multi-factor.
function adminCenterOpen() {
  const adminNotice = $("#admin-mfa-notice");
  if (!adminNotice) return;
  adminNotice.className = "alert alert-success";
  adminNotice.setAttribute("role", "status");
  adminNotice.replaceChildren(h("p", {}, "Your sign-in is now multi-factor. ",
    h("a", { href: "/admin", id: "open-admin-center" }, "Open the admin center")));
}

async function deleteApp() {
  const ok = await confirmDialog({
    title: "Delete authenticator app?",
    message: "You will no longer be able to sign in with codes from your authenticator app.",
  });
  if (!ok) return;
  try {
    await del("/api/v1/me/authenticatorApp");
    toast("Authenticator app deleted.");
    await load();
  } catch (e) {
    showNotice("error", e.message);
  }
}

// --- security key / passkey ---

function mfaFresh() {
  return !!(me && me.mfaRecent);
}

function showMFANeeded(message) {
  wantPasskey = true;
  if (message) $("#mfa-explanation").textContent = message;
  const canApp = !!(methods.canAdd && methods.canAdd.authenticatorApp && !methods.authenticatorApp);
  show($("#mfa-setup-app"), canApp);
  showAdd("add-passkey-mfa", canApp ? "#mfa-setup-app" : "#mfa-sign-in-again");
}

function startPasskey() {
  setAlert(addError, "");
  if (!mfaFresh()) {
    const hasSecond = !!methods.authenticatorApp || (methods.passkeys || []).length > 0;
    showMFANeeded(hasSecond
      ? `To add a security key, you need to have signed in with multi-factor authentication in the last ${limit("recentMfaMinutes")} minutes. Sign in again with your password and authenticator app code, or with an existing key.`
      : "To add a security key, first set up multi-factor authentication: add an authenticator app, then come back to add your key.");
    return;
  }
  wantPasskey = false;
  showAdd("add-passkey-kind", "#kind-usb");
}

$("#mfa-setup-app").addEventListener("click", () => startApp());

// Cancel stops a key set-up the browser is waiting on (for example, when no
// key of the chosen kind is at hand).
let creating = null;
$("#passkey-cancel").addEventListener("click", () => {
  if (creating) creating.abort();
});

const hintsFor = { usb: ["security-key"], nfc: ["security-key"], device: ["client-device"] };

onSubmit($("#add-passkey-kind"), async () => {
  setAlert(addError, "");
  const kind = new FormData($("#add-passkey-kind")).get("kind") || "usb";
  let opts;
  try {
    opts = await post("/api/v1/me/passkeys/registration/options", { hints: hintsFor[kind] });
  } catch (e) {
    if (e instanceof ApiError && e.code === "mfaRequired") {
      showMFANeeded(e.message);
      return;
    }
    setAlert(addError, e.message);
    return;
  }
  showAdd("add-passkey-wait", "#passkey-cancel");
  let cred;
  creating = new AbortController();
  try {
    cred = await navigator.credentials.create({ publicKey: creationOptions(opts.publicKey), signal: creating.signal });
  } catch (e) {
    showAdd("add-passkey-kind", "#passkey-create");
    if (!isAbort(e)) setAlert(addError, explain(e, true));
    return;
  } finally {
    creating = null;
  }
  try {
    added = await post("/api/v1/me/passkeys", { displayName: "", publicKeyCredential: credentialJSON(cred) });
  } catch (e) {
    showAdd("add-passkey-kind");
    setAlert(addError, e.message);
    return;
  }
  $("#passkey-added-text").textContent = added.model
    ? `Your ${added.model} is registered. Give it a name you will recognise.`
    : "Your security key is registered. Give it a name you will recognise.";
  $("#passkey-name").value = added.model || added.displayName || "";
  showAdd("add-passkey-name", "#passkey-name");
  $("#passkey-name").select();
  load().catch(() => {});
});

onSubmit($("#add-passkey-name"), async () => {
  setAlert(addError, "");
  const name = $("#passkey-name").value.trim();
  if (!name) {
    setAlert(addError, "Enter a name for your key.");
    $("#passkey-name").focus();
    return;
  }
  try {
    if (added && name !== added.displayName) {
      await patch("/api/v1/me/passkeys/" + encodeURIComponent(added.id), { displayName: name });
    }
  } catch (e) {
    setAlert(addError, e.message);
    return;
  }
  toast(`“${name}” added.`);
  added = null;
  await load();
  closeAdd();
});

// --- rename and delete ---

async function rename(p) {
  const dlg = $("#rename-dialog");
  const input = $("#rename-input");
  $("#rename-title").textContent = `Rename “${p.displayName}”`;
  input.value = p.displayName;
  const answer = modal(dlg, input);
  input.select();
  if ((await answer) !== "ok") return;
  const newName = input.value.trim();
  if (!newName || newName === p.displayName) return;
  try {
    await patch("/api/v1/me/passkeys/" + encodeURIComponent(p.id), { displayName: newName });
    toast("Renamed.");
    await load();
  } catch (e) {
    showNotice("error", e.message);
  }
}

async function deletePasskey(p) {
  const ok = await confirmDialog({
    title: `Delete “${p.displayName}”?`,
    message: "You will no longer be able to sign in with this security key or passkey. This cannot be undone.",
  });
  if (!ok) return;
  try {
    await del("/api/v1/me/passkeys/" + encodeURIComponent(p.id));
    toast(`“${p.displayName}” deleted.`);
    await load();
  } catch (e) {
    showNotice("error", e.message);
  }
}

function showNotice(kind, message) {
  notice.className = "alert alert-" + kind;
  notice.setAttribute("role", kind === "error" ? "alert" : "status");
  notice.textContent = message;
  show(notice, !!message);
}

// --- start ---

if (params.get("welcome")) {
  showNotice("success", "Your administrator account is ready. Add a passkey now, so you can sign in without a password.");
}

load().then(() => {
  if (params.get("upgraded")) {
    const auto = (methods.passkeys || []).find((p) => p.automaticallyCreated);
    if (auto) {
      showNotice("info", `Your browser or password manager created a passkey for you ("${auto.displayName}") when you signed in with your password. ` +
        "Next time, sign in with it instead of your password. If you did not want it, delete it below.");
    }
  }
  if (params.get("add") !== "passkey") return;
  if (methods.canAdd && methods.canAdd.passkey) {
    startPasskey();
    return;
  }
  if (methods.canAdd && methods.canAdd.passkeyCanTurnOn) {
    // A new install has passkeys turned off: the first administrator is the
    // one who can turn them on, so the notice says so once, and how.
    notice.className = "alert alert-warning";
    notice.setAttribute("role", "status");
    notice.replaceChildren(h("div", {},
      params.get("welcome") ? h("p", {}, "Your administrator account is ready.") : null,
      h("p", {}, h("strong", {}, "Passkeys are turned off for your organisation.")),
      h("p", {}, "You can turn them on: open the Passkey (FIDO2) settings, turn passkeys on, then come back here to add your passkey."),
      h("p", {}, h("a", { class: "btn btn-primary btn-sm", href: "/admin/authentication-methods/fido2", id: "enable-passkeys" }, "Open the Passkey (FIDO2) settings"))));
    show(notice, true);
    return;
  }
  openChooser();
}).catch((e) => {
  $("#methods-summary").textContent = "";
  showNotice("error", e.message);
});


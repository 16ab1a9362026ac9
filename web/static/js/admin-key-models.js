// Admin center — key models in use: the report, charts, and "select models
// → preview → save as allow list" through the policy's preview endpoint.
import { get, listAll, getVersioned, patchIfMatch } from "./api.js";
import { $, $$, h, show, setAlert, badge, busy } from "./ui.js";
import { fido2Path as fido2, askPreview, pageOf, summaryText, privilegedText, userTable } from "./impact-preview.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const table = $("#models");
const previewButton = $("#models-preview");
let policy = null;
let etag = "";
let proposal = null;
// The preview named privileged accounts this change locks out: saving it
// after seeing them is the administrator's confirmation (force=true).
let lockoutShown = false;

function selected() {
  return $$('input[name="model"]:checked', table).map((c) => c.value);
}

function row(m) {
  const id = "model-" + m.aaGuid;
  return h("tr", { dataset: { aaguid: m.aaGuid } },
    h("td", {}, h("input", { type: "checkbox", name: "model", value: m.aaGuid, id, "aria-label": "Select " + (m.model || m.aaGuid),
      onchange: () => { previewButton.disabled = selected().length === 0; } })),
    h("td", {}, h("label", { for: id, class: "cell-main" }, m.model || "Unknown model"),
      h("div", { class: "cell-sub" }, m.aaGuid)),
    h("td", { class: "hide-sm" }, m.mdsStatus ? badge(m.mdsStatus, m.mdsStatus.startsWith("FIDO_CERTIFIED") ? "success" : "warning")
      : badge(m.inMds ? "In MDS" : "Not in MDS", "neutral"), " ", m.passkeyType, " · ", m.attestationLevel),
    h("td", {}, String(m.registeredPasskeys), h("div", { class: "cell-sub" }, `${m.users} users`)),
    h("td", { class: "hide-sm" }, `${m.signIns7Days} / ${m.signIns30Days} / ${m.signIns90Days}`,
      h("div", { class: "cell-sub" }, `${m.signInUsers90Days} users in 90 days`)),
    h("td", { class: "hide-sm" }, m.lastUsedDateTime ? new Date(m.lastUsedDateTime).toLocaleDateString() : "Never"));
}

// The preview's answers sit beside the Preview button, the save's beside
// Save as allow list, and what appears is brought into view.
const previewMessages = formMessages($("#models-preview").closest("section"), [
  { input: "#models-profile", names: ["passkeyProfiles"] },
], { actions: $("#models-preview").parentElement, id: "models-preview" });
const saveMessages = formMessages($("#preview"), [], { actions: $("#preview .form-actions"), id: "preview-list" });

// Anyone may preview; saving the allow list changes the passkey policy.
if (!may("methodPolicies")) readOnly([$("#preview-save")], needs("methodPolicies", "saving an allow list"), { noteAfter: $("#preview-summary") });

async function loadModels() {
  setAlert($("#models-error"), "");
  const group = $("#models-group").value;
  let report;
  try {
    report = await get("/api/v1/reports/authenticationMethods/passkeyModels" + (group ? "?groupId=" + encodeURIComponent(group) : ""));
  } catch (e) {
    setAlert($("#models-error"), e.message);
    return;
  }
  $("#models-csv").href = "/api/v1/reports/authenticationMethods/passkeyModels?$format=csv" + (group ? "&groupId=" + encodeURIComponent(group) : "");
  previewButton.disabled = true;
  if (!report.value.length) {
    table.replaceChildren(h("p", { class: "empty" }, "Nobody here has registered a passkey yet."));
    return;
  }
  table.replaceChildren(h("table", { class: "table", id: "models-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Select")),
      h("th", { scope: "col" }, "Model"), h("th", { scope: "col", class: "hide-sm" }, "MDS status and type"),
      h("th", { scope: "col" }, "Passkeys"), h("th", { scope: "col", class: "hide-sm" }, "Sign-ins 7 / 30 / 90 days"),
      h("th", { scope: "col", class: "hide-sm" }, "Last used"))),
    h("tbody", {}, ...report.value.map(row))));
}

async function loadPolicy() {
  const res = await getVersioned(fido2);
  policy = res.data;
  etag = res.etag;
  $("#models-profile").replaceChildren(...(policy.passkeyProfiles || []).map((p) => h("option", { value: p.id }, p.name)));
}

function proposed() {
  const profiles = policy.passkeyProfiles.map((p) => p.id !== $("#models-profile").value ? p : {
    ...p, keyRestrictions: { isEnforced: true, enforcementType: "allow", aaGuids: selected() },
  });
  return { passkeyProfiles: profiles };
}

previewButton.addEventListener("click", async () => {
  busy(previewButton, true);
  previewMessages.clear();
  try {
    if (!policy) await loadPolicy();
    proposal = proposed();
    const p = await askPreview(proposal);
    $("#preview-summary").textContent = summaryText(p.summary);
    lockoutShown = p.privilegedUsersAffected.length > 0;
    setAlert($("#preview-privileged"), privilegedText(p.privilegedUsersAffected));
    $("#preview-users").replaceChildren(userTable(p.usersLosingPasskeySignIn, p.summary.usersLosingPasskeySignIn,
      undefined, pageOf(proposal, "usersLosingPasskeySignIn")));
    saveMessages.clear();
    show($("#preview"), true);
    $("#preview").scrollIntoView({ block: "nearest" });
  } catch (e) {
    previewMessages.error(e);
  } finally {
    busy(previewButton, false);
  }
});

$("#preview-save").addEventListener("click", async () => {
  const button = $("#preview-save");
  busy(button, true);
  try {
    const res = await patchIfMatch(fido2 + (lockoutShown ? "?force=true" : ""), proposal, etag);
    etag = res.etag;
    policy = res.data;
    show($("#preview"), false);
    previewMessages.saved("The allow list is saved.");
  } catch (e) {
    saveMessages.error(e.status === 412
      ? "Someone changed the passkey policy meanwhile; nothing was saved. Preview again to see the policy as it is now."
      : e.message);
    if (e.status === 412) policy = null;
  } finally {
    busy(button, false);
  }
});
$("#preview-cancel").addEventListener("click", () => show($("#preview"), false));
$("#models-group").addEventListener("change", loadModels);

(async () => {
  try {
    const groups = await listAll("/api/v1/groups?$top=200", 1000);
    $("#models-group").append(...groups.map((g) => h("option", { value: g.id }, g.displayName)));
    await loadPolicy();
  } catch (e) {
    setAlert($("#models-error"), e.message);
  }
  await loadModels();
})();

// Admin center — the sign-in log: filters that become the API's $filter,
// "Load more" through @odata.nextLink, and a detail pane per entry.
import { odataString } from "./api.js";
import { pagedTable } from "./paged-list.js";
import { $, h, show, badge, onSubmit } from "./ui.js";
import { formMessages, filterError } from "./form-messages.js";

const table = $("#signins");
const more = $("#signins-more");
const detail = $("#signin-detail");
const filterMessages = formMessages($("#signin-filters"), [
  { input: "#filter-upn", names: ["userPrincipalName"] },
  { input: "#filter-since", names: ["createdDateTime"] },
  { input: "#filter-aaguid", names: ["aaGuid"] },
]);
const params = new URLSearchParams(location.search);
let userId = params.get("userId") || "";

if (params.get("upn")) $("#filter-upn").value = params.get("upn");
if (userId) {
  const note = $("#signin-user-note");
  note.textContent = "Showing one user's sign-ins.";
  show(note, true);
}

function filter() {
  const parts = [];
  const upn = $("#filter-upn").value.trim();
  if (userId) parts.push(`userId eq ${odataString(userId)}`);
  if (upn) parts.push(`userPrincipalName eq ${odataString(upn)}`);
  const status = $("#filter-status").value;
  if (status === "success") parts.push("status/errorCode eq 0");
  if (status === "failure") parts.push("status/errorCode ne 0");
  const since = $("#filter-since").value;
  if (since) parts.push(`createdDateTime ge ${since}T00:00:00Z`);
  const aaguid = $("#filter-aaguid").value.trim();
  if (aaguid) parts.push(`aaGuid eq ${odataString(aaguid)}`);
  return parts.join(" and ");
}

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function row(s) {
  const ok = s.status.errorCode === 0;
  return h("tr", { dataset: { signinId: s.id } },
    h("td", {}, h("button", { type: "button", class: "btn-link cell-main", onclick: () => openDetail(s) }, when(s.createdDateTime))),
    h("td", {}, s.userDisplayName || s.userPrincipalName || "—", h("div", { class: "cell-sub" }, s.userPrincipalName)),
    h("td", { class: "hide-sm" }, s.authenticationMethodsUsed.join(", "),
      s.passkeyModel ? h("div", { class: "cell-sub" }, s.passkeyModel) : []),
    h("td", {}, ok ? badge("Succeeded", "success") : badge("Failed", "danger")));
}

function openDetail(s) {
  const fields = [
    ["Date (UTC)", s.createdDateTime], ["User", `${s.userDisplayName || ""} ${s.userPrincipalName}`.trim()],
    ["User ID", s.userId || "—"], ["Application", s.appDisplayName], ["IP address", s.ipAddress],
    ["User agent", s.userAgent], ["Status", s.status.errorCode === 0 ? "Succeeded" : `Failed (error ${s.status.errorCode})`],
    ["Failure reason", s.status.failureReason || "—"], ["Failure code", s.status.additionalDetails || "—"],
    ["Key model", s.passkeyModel || "—"], ["AAGUID", s.aaGuid || "—"], ["Passkey type", s.passkeyType || "—"],
    ["Correlation ID", s.correlationId || "—"],
  ];
  $("#signin-detail-fields").replaceChildren(...fields.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  $("#signin-detail-steps").replaceChildren(h("table", { class: "table", id: "signin-steps" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Time"), h("th", { scope: "col" }, "Method"),
      h("th", { scope: "col" }, "Detail"), h("th", { scope: "col" }, "Result"))),
    h("tbody", {}, ...s.authenticationDetails.map((d) => h("tr", {},
      h("td", {}, when(d.authenticationStepDateTime)), h("td", {}, d.authenticationMethod),
      h("td", {}, d.authenticationMethodDetail || "—"),
      h("td", {}, d.succeeded ? badge("Succeeded", "success") : [badge("Failed", "danger"), " ", d.authenticationStepResultDetail]))))));
  show(detail, true);
  detail.scrollIntoView({ block: "nearest" });
  $("#signin-detail-close").focus();
}

const load = pagedTable({
  path: "/api/v1/auditLogs/signIns", filter, table, more, tableId: "signins-table", row,
  headers: () => [h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "User"),
    h("th", { scope: "col", class: "hide-sm" }, "Method"), h("th", { scope: "col" }, "Status")],
  empty: (f) => (f ? "No sign-in matches these filters." : "No sign-ins yet."),
  showError: filterError(filterMessages),
});

onSubmit($("#signin-filters"), () => load(false));
$("#signin-clear").addEventListener("click", () => {
  $("#signin-filters").reset();
  userId = "";
  show($("#signin-user-note"), false);
  history.replaceState(null, "", location.pathname);
  load(false);
});
$("#signin-detail-close").addEventListener("click", () => show(detail, false));
load(false);

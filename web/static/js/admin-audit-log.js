// Admin center — the audit log: filters, "Load more", and a detail pane
// with each changed property's old and new value.
import { odataString } from "./api.js";
import { pagedTable } from "./paged-list.js";
import { $, h, show, onSubmit } from "./ui.js";
import { formMessages, filterError } from "./form-messages.js";

const table = $("#audits");
const more = $("#audits-more");
const filterMessages = formMessages($("#audit-filters"), [
  { input: "#audit-category", names: ["category"] },
  { input: "#audit-initiator", names: ["initiatedBy/user/userPrincipalName", "initiatedBy"] },
  { input: "#audit-since", names: ["activityDateTime"] },
  { input: "#audit-target", names: ["targetResources/any(t: t/id", "targetResources"] },
]);
const params = new URLSearchParams(location.search);
if (params.get("targetId")) $("#audit-target").value = params.get("targetId");

function filter() {
  const parts = [];
  const cat = $("#audit-category").value;
  if (cat) parts.push(`category eq ${odataString(cat)}`);
  const who = $("#audit-initiator").value.trim();
  if (who) parts.push(`initiatedBy/user/userPrincipalName eq ${odataString(who)}`);
  const since = $("#audit-since").value;
  if (since) parts.push(`activityDateTime ge ${since}T00:00:00Z`);
  const target = $("#audit-target").value.trim();
  if (target) parts.push(`targetResources/any(t: t/id eq ${odataString(target)})`);
  return parts.join(" and ");
}

const when = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
const initiator = (a) => a.initiatedBy.user ? a.initiatedBy.user.userPrincipalName : (a.initiatedBy.app ? a.initiatedBy.app.displayName : "—");

function row(a) {
  const t = a.targetResources[0] || {};
  return h("tr", { dataset: { auditId: a.id } },
    h("td", {}, h("button", { type: "button", class: "btn-link cell-main", onclick: () => openDetail(a) }, when(a.activityDateTime))),
    h("td", {}, a.activityDisplayName, h("div", { class: "cell-sub" }, a.category)),
    h("td", { class: "hide-sm" }, initiator(a)),
    h("td", { class: "hide-sm" }, `${t.type || ""} ${t.displayName || t.id || ""}`.trim()));
}

function openDetail(a) {
  const t = a.targetResources[0] || { modifiedProperties: [] };
  const fields = [["Date (UTC)", a.activityDateTime], ["Activity", a.activityDisplayName], ["Category", a.category],
    ["Changed by", initiator(a)], ["Target", `${t.type || ""} ${t.displayName || ""} ${t.id || ""}`.trim()],
    ["Result", a.result], ["Correlation ID", a.correlationId || "—"],
    ...a.additionalDetails.map((d) => [d.key, d.value])];
  $("#audit-detail-fields").replaceChildren(...fields.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  const mods = t.modifiedProperties || [];
  $("#audit-detail-changes").replaceChildren(mods.length ? h("table", { class: "table", id: "audit-changes" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Property"), h("th", { scope: "col" }, "Old value"), h("th", { scope: "col" }, "New value"))),
    h("tbody", {}, ...mods.map((m) => h("tr", {}, h("td", {}, m.displayName), h("td", {}, h("code", {}, m.oldValue || "—")),
      h("td", {}, h("code", {}, m.newValue || "—")))))) : h("p", { class: "muted" }, "No property changes recorded."));
  show($("#audit-detail"), true);
  $("#audit-detail").scrollIntoView({ block: "nearest" });
}

const load = pagedTable({
  path: "/api/v1/auditLogs/directoryAudits", filter, table, more, tableId: "audits-table", row,
  headers: () => [h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Activity"),
    h("th", { scope: "col", class: "hide-sm" }, "Changed by"), h("th", { scope: "col", class: "hide-sm" }, "Target")],
  empty: (f) => (f ? "No change matches these filters." : "No changes yet."),
  showError: filterError(filterMessages),
});

onSubmit($("#audit-filters"), () => load(false));
$("#audit-detail-close").addEventListener("click", () => show($("#audit-detail"), false));
load(false);

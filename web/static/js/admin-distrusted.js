// Admin center — distrusted key models: the registered passkeys whose model
// MDS reports as revoked or compromised, with their users.
import { get } from "./api.js";
import { $, h, setAlert, formatDate } from "./ui.js";

const table = $("#distrusted");

function row(a) {
  return h("tr", {},
    h("td", {}, h("a", { href: "/admin/users/" + encodeURIComponent(a.userId), class: "cell-main" }, a.userDisplayName || a.userPrincipalName),
      h("div", { class: "cell-sub" }, a.userPrincipalName)),
    h("td", {}, a.methodDisplayName, h("div", { class: "cell-sub" }, a.model || "Unknown model"),
      // On a phone the reason column does not fit: it goes under the key.
      h("div", { class: "cell-sub show-sm" }, a.reason)),
    h("td", { class: "hide-sm" }, a.reason),
    h("td", { class: "hide-sm" }, formatDate(a.lastUsedDateTime)));
}

async function load() {
  let report;
  try {
    report = await get("/api/v1/reports/authenticationMethods/distrustedPasskeys");
  } catch (e) {
    setAlert($("#distrusted-error"), e.message);
    return;
  }
  if (!report.value.length) {
    $("#distrusted-summary").textContent = "";
    table.replaceChildren(h("p", { class: "empty", id: "distrusted-none" }, "No registered passkey is of a model the FIDO Metadata Service distrusts."));
    return;
  }
  $("#distrusted-summary").textContent = `${count(report.value.length, "passkey", "passkeys")} of ${count(report.users, "user", "users")}`;
  table.replaceChildren(h("table", { class: "table", id: "distrusted-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Passkey and model"),
      h("th", { scope: "col", class: "hide-sm" }, "Why it is distrusted"), h("th", { scope: "col", class: "hide-sm" }, "Last used"))),
    h("tbody", {}, ...report.value.map(row))));
}

function count(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

load();

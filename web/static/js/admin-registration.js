// Admin center — registration details: the rollout counts, per group, and
// each user's registered methods.
import { get, pathOf } from "./api.js";
import { $, h, show, setAlert, badge } from "./ui.js";

const names = {
  passKeyDeviceBound: "Passkey (device-bound)", passKeySynced: "Passkey (synced)", password: "Password",
  softwareOath: "Authenticator app", temporaryAccessPass: "Temporary Access Pass",
};
const pct = (n, of) => (of ? Math.round((n / of) * 100) : 0) + "%";
let nextLink = "";
let generation = 0;

async function loadCounts() {
  const c = await get("/api/v1/reports/authenticationMethods/usersRegisteredByMethod");
  $("#stat-passwordless").textContent = `${c.passwordlessCapableUserCount} (${pct(c.passwordlessCapableUserCount, c.totalUserCount)})`;
  $("#stat-total").textContent = String(c.totalUserCount);
  $("#method-counts").replaceChildren(h("table", { class: "table", id: "method-counts-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Method"), h("th", { scope: "col" }, "Users"))),
    h("tbody", {}, ...c.userRegistrationMethodCounts.map((m) => h("tr", {},
      h("td", {}, names[m.authenticationMethod] || m.authenticationMethod), h("td", {}, `${m.userCount} (${pct(m.userCount, c.totalUserCount)})`))))));
  $("#group-rollout").replaceChildren(c.groups.length ? h("table", { class: "table", id: "group-rollout-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Group"), h("th", { scope: "col" }, "Members"),
      h("th", { scope: "col" }, "Passwordless-capable"))),
    h("tbody", {}, ...c.groups.map((g) => h("tr", {},
      h("td", {}, h("a", { href: "/admin/groups/" + encodeURIComponent(g.groupId) }, g.displayName)),
      h("td", {}, String(g.userCount)),
      h("td", {}, `${g.passwordlessCapableUserCount} (${pct(g.passwordlessCapableUserCount, g.userCount)})`))))) :
    h("p", { class: "empty" }, "No groups yet."));
}

function row(d) {
  return h("tr", {},
    h("td", {}, h("a", { class: "cell-main", href: "/admin/users/" + encodeURIComponent(d.id) }, d.userDisplayName || d.userPrincipalName),
      h("div", { class: "cell-sub" }, d.userPrincipalName)),
    h("td", {}, d.isPasswordlessCapable ? badge("Passwordless", "success") : badge("Not yet", "warning")),
    h("td", { class: "hide-sm" }, d.methodsRegistered.map((m) => names[m] || m).join(", ") || "—"));
}

async function loadDetails(append) {
  const gen = ++generation;
  const table = $("#details");
  const f = $("#details-filter").value;
  let path = "/api/v1/reports/authenticationMethods/userRegistrationDetails?$top=50";
  if (append && nextLink) path = pathOf(nextLink);
  else if (f) path += "&$filter=" + encodeURIComponent(f);
  let page;
  try {
    page = await get(path);
  } catch (e) {
    if (gen === generation) setAlert($("#registration-error"), e.message);
    return;
  }
  if (gen !== generation) return;
  nextLink = page["@odata.nextLink"] || "";
  show($("#details-more"), !!nextLink);
  let tbody = $("tbody", table);
  if (!append || !tbody) {
    tbody = h("tbody");
    table.replaceChildren(h("table", { class: "table", id: "details-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Passwordless"),
        h("th", { scope: "col", class: "hide-sm" }, "Methods registered"))), tbody));
  }
  tbody.append(...page.value.map(row));
}

$("#details-filter").addEventListener("change", () => loadDetails(false));
$("#details-more").addEventListener("click", () => loadDetails(true));
loadCounts().catch((e) => setAlert($("#registration-error"), e.message));
loadDetails(false);

// Admin center — users: list, search by user principal name, create.
import { get, post, pathOf, odataString } from "./api.js";
import { $, h, show, setAlert, onSubmit, badge, flash, takeFlash, toast } from "./ui.js";

const table = $("#users");
const more = $("#users-more");
const createCard = $("#create-user");
let nextLink = "";
let searchTimer = 0;
let generation = 0; // ignores answers to searches the user has since changed

const roleNames = {
  "global-admin": "Global administrator",
  "authentication-admin": "Authentication administrator",
  reader: "Reader",
};

function userRow(u) {
  const status = u.accountEnabled ? badge("Enabled", "success") : badge("Disabled", "danger");
  return h("tr", { dataset: { userId: u.id } },
    h("td", {}, h("a", { class: "cell-main", href: "/admin/users/" + encodeURIComponent(u.id) }, u.displayName || u.userPrincipalName),
      h("div", { class: "cell-sub" }, u.userPrincipalName)),
    h("td", {}, status, u.isEmergencyAccess ? [" ", badge("Emergency access", "warning")] : []),
    h("td", { class: "hide-sm" }, u.adminRole ? roleNames[u.adminRole] || u.adminRole : h("span", { class: "muted" }, "—")));
}

async function load(append) {
  const gen = ++generation;
  const q = $("#user-search").value.trim();
  let path = "/api/v1/users?$top=50";
  if (append && nextLink) path = pathOf(nextLink);
  else if (q) path += "&$filter=" + encodeURIComponent(`startswith(userPrincipalName,${odataString(q)})`);
  let page;
  try {
    page = await get(path);
  } catch (e) {
    table.replaceChildren(h("div", { class: "alert alert-error", role: "alert" }, e.message));
    return;
  }
  if (gen !== generation) return;
  nextLink = page["@odata.nextLink"] || "";
  show(more, !!nextLink);
  let tbody = $("tbody", table);
  if (!append || !tbody) {
    if (!page.value.length) {
      table.replaceChildren(h("p", { class: "empty" }, q ? `No user's name starts with “${q}”.` : "No users yet. Create the first one."));
      return;
    }
    tbody = h("tbody");
    table.replaceChildren(h("table", { class: "table", id: "users-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col", class: "hide-sm" }, "Admin role"))), tbody));
  }
  tbody.append(...page.value.map(userRow));
}

$("#user-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => load(false), 200);
});
more.addEventListener("click", () => load(true));

function toggleCreate(on) {
  show(createCard, on);
  $("#new-user").setAttribute("aria-expanded", String(on));
  if (on) $("#new-upn").focus();
}
$("#new-user").addEventListener("click", () => toggleCreate(createCard.hidden));
$('[data-action="cancel-create"]').addEventListener("click", () => toggleCreate(false));

onSubmit($("#create-user-form"), async () => {
  const err = $("#create-user-error");
  setAlert(err, "");
  const body = {
    userPrincipalName: $("#new-upn").value.trim(),
    displayName: $("#new-display-name").value.trim(),
    accountEnabled: true,
  };
  if (!body.userPrincipalName || !body.displayName) {
    setAlert(err, "Enter the user principal name and the display name.");
    return;
  }
  const password = $("#new-password").value;
  if (password) body.passwordProfile = { password };
  try {
    const u = await post("/api/v1/users", body);
    flash("success", `User ${u.userPrincipalName} created.`);
    location.assign("/admin/users/" + encodeURIComponent(u.id));
  } catch (e) {
    setAlert(err, e.message);
  }
});

const f = takeFlash();
if (f) toast(f.message, f.kind);
load(false);

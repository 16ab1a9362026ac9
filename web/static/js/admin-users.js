// Admin center — users: list, search by user principal name, create.
import { post } from "./api.js";
import { $, h, show, onSubmit, badge, flash, takeFlash, toast } from "./ui.js";
import { pagedList } from "./paged-list.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const table = $("#users");
const more = $("#users-more");
const createCard = $("#create-user");

const roleNames = {
  "global-admin": "Global administrator",
  "privileged-authentication-admin": "Privileged authentication administrator",
  "authentication-admin": "Authentication administrator",
  reader: "Reader",
};

function userRow(u) {
  const status = u.accountEnabled ? badge("Enabled", "success") : badge("Disabled", "danger");
  return h("tr", { dataset: { userId: u.id } },
    h("td", {}, h("a", { class: "cell-main", href: "/admin/users/" + encodeURIComponent(u.id) }, u.displayName || u.userPrincipalName),
      h("div", { class: "cell-sub" }, u.userPrincipalName)),
    h("td", {}, status, u.isEmergencyAccess ? [" ", badge("Emergency access", "warning")] : []),
    h("td", { class: "role-cell" }, u.adminRole ? roleNames[u.adminRole] || u.adminRole : h("span", { class: "muted" }, "—")));
}


function toggleCreate(on) {
  show(createCard, on);
  $("#new-user").setAttribute("aria-expanded", String(on));
  if (on) $("#new-upn").focus();
}
$("#new-user").addEventListener("click", () => toggleCreate(createCard.hidden));
$('[data-action="cancel-create"]').addEventListener("click", () => toggleCreate(false));

const createMessages = formMessages($("#create-user-form"), [
  { input: "#new-upn", names: ["userPrincipalName"] },
  { input: "#new-display-name", names: ["displayName"] },
  { input: "#new-password", names: ["passwordProfile", "password"], words: /\bpassword\b/i },
]);

onSubmit($("#create-user-form"), async () => {
  createMessages.clear();
  const body = {
    userPrincipalName: $("#new-upn").value.trim(),
    displayName: $("#new-display-name").value.trim(),
    accountEnabled: true,
  };
  if (!body.userPrincipalName) createMessages.fieldError("#new-upn", "enter one, for example alex@example.com");
  if (!body.displayName) createMessages.fieldError("#new-display-name", "enter one, for example Alex Wilber");
  if (!body.userPrincipalName || !body.displayName) return;
  const password = $("#new-password").value;
  if (password) body.passwordProfile = { password };
  try {
    const u = await post("/api/v1/users", body);
    flash("success", `User ${u.userPrincipalName} created.`);
    location.assign("/admin/users/" + encodeURIComponent(u.id));
  } catch (e) {
    createMessages.error(e);
  }
});

if (!may("directory")) readOnly([$("#new-user")], needs("directory", "creating and changing users"), { noteAfter: $(".page-header") });

const f = takeFlash();
if (f) toast(f.message, f.kind);
pagedList({
  collection: "users", field: "userPrincipalName", search: $("#user-search"), table, more, tableId: "users-table",
  headers: () => [h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Status"),
    h("th", { scope: "col" }, "Admin role")],
  row: userRow,
  empty: (q) => q ? `No user's name starts with “${q}”.` : "No users yet. Create the first one.",
});

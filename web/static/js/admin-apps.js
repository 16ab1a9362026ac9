// Admin center — applications: list, search by name, register.
import { post } from "./api.js";
import { $, h, show, onSubmit, flash, takeFlash, toast, badge } from "./ui.js";
import { pagedList } from "./paged-list.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const createCard = $("#create-app");

const isPublic = (a) => !(a.web.redirectUris || []).length;

function appRow(a) {
  return h("tr", { dataset: { appId: a.id } },
    h("td", {}, h("a", { class: "cell-main", href: "/admin/applications/" + encodeURIComponent(a.id) }, a.displayName)),
    h("td", {}, isPublic(a) ? badge("Public client", "info") : badge("Web app")),
    h("td", { class: "hide-sm mono" }, a.appId));
}

function toggleCreate(on) {
  show(createCard, on);
  $("#new-app").setAttribute("aria-expanded", String(on));
  if (on) $("#new-app-name").focus();
}
$("#new-app").addEventListener("click", () => toggleCreate(createCard.hidden));
$('[data-action="cancel-create"]').addEventListener("click", () => toggleCreate(false));

const createMessages = formMessages($("#create-app-form"), [
  { input: "#new-app-name", names: ["displayName"] },
  { input: "#new-app-redirect", names: ["web.redirectUris", "publicClient.redirectUris", "redirectUris"], words: /\bredirect URIs?\b/i },
]);

onSubmit($("#create-app-form"), async () => {
  createMessages.clear();
  const name = $("#new-app-name").value.trim();
  const redirect = $("#new-app-redirect").value.trim();
  if (!name) createMessages.fieldError("#new-app-name", "enter one, for example Grafana");
  if (!redirect) createMessages.fieldError("#new-app-redirect", "enter the one the app uses, for example https://app.example.com/callback");
  if (!name || !redirect) {
    $(name ? "#new-app-redirect" : "#new-app-name").focus();
    return;
  }
  const body = { displayName: name };
  body[$("#new-app-public").checked ? "publicClient" : "web"] = { redirectUris: [redirect] };
  try {
    const a = await post("/api/v1/applications", body);
    flash("success", isPublic(a) ? `${a.displayName} registered. Copy its client ID into the app.`
      : `${a.displayName} registered. Copy its client ID and add a client secret below.`);
    location.assign("/admin/applications/" + encodeURIComponent(a.id));
  } catch (e) {
    createMessages.error(e);
  }
});

if (!may("applications")) readOnly([$("#new-app")], needs("applications", "registering and changing applications"), { noteAfter: $(".page-header") });

const f = takeFlash();
if (f) toast(f.message, f.kind);
pagedList({
  collection: "applications", field: "displayName", search: $("#app-search"), table: $("#apps"), more: $("#apps-more"),
  tableId: "apps-table",
  headers: () => [h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Kind"), h("th", { scope: "col", class: "hide-sm" }, "Client ID")],
  row: appRow,
  empty: (q) => q ? `No application's name starts with “${q}”.` : "No applications yet. Register one to let its users sign in with Keyward.",
});

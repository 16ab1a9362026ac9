// Admin center — groups: list, search by name, create.
import { post } from "./api.js";
import { $, h, show, onSubmit, flash, takeFlash, toast } from "./ui.js";
import { pagedList } from "./paged-list.js";
import { formMessages } from "./form-messages.js";
import { may, needs, readOnly } from "./read-only.js";

const table = $("#groups");
const more = $("#groups-more");
const createCard = $("#create-group");

function groupRow(g) {
  return h("tr", { dataset: { groupId: g.id } },
    h("td", {}, h("a", { class: "cell-main", href: "/admin/groups/" + encodeURIComponent(g.id) }, g.displayName)),
    h("td", { class: "hide-sm" }, g.description || h("span", { class: "muted" }, "—")));
}


function toggleCreate(on) {
  show(createCard, on);
  $("#new-group").setAttribute("aria-expanded", String(on));
  if (on) $("#new-group-name").focus();
}
$("#new-group").addEventListener("click", () => toggleCreate(createCard.hidden));
$('[data-action="cancel-create"]').addEventListener("click", () => toggleCreate(false));

const createMessages = formMessages($("#create-group-form"), [
  { input: "#new-group-name", names: ["displayName"] },
  { input: "#new-group-description", names: ["description"] },
]);

onSubmit($("#create-group-form"), async () => {
  createMessages.clear();
  const body = { displayName: $("#new-group-name").value.trim() };
  const description = $("#new-group-description").value.trim();
  if (description) body.description = description;
  if (!body.displayName) {
    createMessages.fieldError("#new-group-name", "enter one, for example Finance");
    return;
  }
  try {
    const g = await post("/api/v1/groups", body);
    flash("success", `Group ${g.displayName} created. Add its members below.`);
    location.assign("/admin/groups/" + encodeURIComponent(g.id));
  } catch (e) {
    createMessages.error(e);
  }
});

if (!may("directory")) readOnly([$("#new-group")], needs("directory", "creating and changing groups"), { noteAfter: $(".page-header") });

const f = takeFlash();
if (f) toast(f.message, f.kind);
pagedList({
  collection: "groups", field: "displayName", search: $("#group-search"), table, more, tableId: "groups-table",
  headers: () => [h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "hide-sm" }, "Description")],
  row: groupRow,
  empty: (q) => q ? `No group's name starts with “${q}”.` : "No groups yet. Create one to target passkey policies.",
});

// Admin center — groups: list, search by name, create.
import { get, post, pathOf, odataString } from "./api.js";
import { $, h, show, setAlert, onSubmit, flash, takeFlash, toast } from "./ui.js";

const table = $("#groups");
const more = $("#groups-more");
const createCard = $("#create-group");
let nextLink = "";
let searchTimer = 0;
let generation = 0;

function groupRow(g) {
  return h("tr", { dataset: { groupId: g.id } },
    h("td", {}, h("a", { class: "cell-main", href: "/admin/groups/" + encodeURIComponent(g.id) }, g.displayName)),
    h("td", { class: "hide-sm" }, g.description || h("span", { class: "muted" }, "—")));
}

async function load(append) {
  const gen = ++generation;
  const q = $("#group-search").value.trim();
  let path = "/api/v1/groups?$top=50";
  if (append && nextLink) path = pathOf(nextLink);
  else if (q) path += "&$filter=" + encodeURIComponent(`startswith(displayName,${odataString(q)})`);
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
      table.replaceChildren(h("p", { class: "empty" }, q ? `No group's name starts with “${q}”.` : "No groups yet. Create one to target passkey policies."));
      return;
    }
    tbody = h("tbody");
    table.replaceChildren(h("table", { class: "table", id: "groups-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "hide-sm" }, "Description"))), tbody));
  }
  tbody.append(...page.value.map(groupRow));
}

$("#group-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => load(false), 200);
});
more.addEventListener("click", () => load(true));

function toggleCreate(on) {
  show(createCard, on);
  $("#new-group").setAttribute("aria-expanded", String(on));
  if (on) $("#new-group-name").focus();
}
$("#new-group").addEventListener("click", () => toggleCreate(createCard.hidden));
$('[data-action="cancel-create"]').addEventListener("click", () => toggleCreate(false));

onSubmit($("#create-group-form"), async () => {
  const err = $("#create-group-error");
  setAlert(err, "");
  const body = { displayName: $("#new-group-name").value.trim() };
  const description = $("#new-group-description").value.trim();
  if (description) body.description = description;
  if (!body.displayName) {
    setAlert(err, "Enter the group's name.");
    return;
  }
  try {
    const g = await post("/api/v1/groups", body);
    flash("success", `Group ${g.displayName} created. Add its members below.`);
    location.assign("/admin/groups/" + encodeURIComponent(g.id));
  } catch (e) {
    setAlert(err, e.message);
  }
});

const f = takeFlash();
if (f) toast(f.message, f.kind);
load(false);

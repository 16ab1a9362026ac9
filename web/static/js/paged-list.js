// A searchable, paged list of a Graph collection (users, groups): a search
// rebuilds the table, "Show more" follows @odata.nextLink and grows it, and an
// answer to a search the person has since changed is dropped.
import { get, pathOf, odataString } from "./api.js";
import { $, h, show } from "./ui.js";

export function pagedList({ collection, field, search, table, more, tableId, headers, row, empty }) {
  let nextLink = "";
  let searchTimer = 0;
  let generation = 0;

  async function load(append) {
    const gen = ++generation;
    const q = search.value.trim();
    let path = `/api/v1/${collection}?$top=50`;
    if (append && nextLink) path = pathOf(nextLink);
    else if (q) path += "&$filter=" + encodeURIComponent(`startswith(${field},${odataString(q)})`);
    let page;
    try {
      page = await get(path);
    } catch (e) {
      if (gen === generation) table.replaceChildren(h("div", { class: "alert alert-error", role: "alert" }, e.message));
      return;
    }
    // A later search (or page) has been asked for: this answer, even when
    // it arrives last, is no longer what the person is looking at.
    if (gen !== generation) return;
    nextLink = page["@odata.nextLink"] || "";
    show(more, !!nextLink);
    let tbody = $("tbody", table);
    if (!append || !tbody) {
      if (!page.value.length) {
        table.replaceChildren(h("p", { class: "empty" }, empty(q)));
        return;
      }
      tbody = h("tbody");
      table.replaceChildren(h("table", { class: "table", id: tableId }, h("thead", {}, h("tr", {}, ...headers())), tbody));
    }
    tbody.append(...page.value.map(row));
  }

  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => load(false), 200);
  });
  more.addEventListener("click", () => load(true));
  load(false);
}

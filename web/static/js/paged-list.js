// Paged lists of a Graph collection. pagedTable loads a collection page by
// page into a table: load(false) starts over with the current filter,
// load(true) ("Show more") follows @odata.nextLink and grows the table. An
// answer — or an error — to a request the person has since replaced is
// dropped, whenever it arrives. pagedList is a pagedTable searched by a box
// (users, groups).
import { get, pathOf, odataString } from "./api.js";
import { $, h, show } from "./ui.js";

// pagedTable returns load. filter() gives the $filter ("" for none);
// empty(filter) the text of an empty result; showError(message) shows a failure
// ("" clears it; by default the table shows it).
export function pagedTable({ path, filter, table, more, tableId, headers, row, empty, showError }) {
  const fail = showError || ((msg) => { if (msg) table.replaceChildren(h("div", { class: "alert alert-error", role: "alert" }, msg)); });
  let nextLink = "";
  let generation = 0;

  async function load(append) {
    const gen = ++generation;
    fail("");
    const f = filter();
    let url = `${path}?$top=50`;
    if (append && nextLink) url = pathOf(nextLink);
    else if (f) url += "&$filter=" + encodeURIComponent(f);
    let page;
    try {
      page = await get(url);
    } catch (e) {
      if (gen === generation) fail(e.message);
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
        table.replaceChildren(h("p", { class: "empty" }, empty(f)));
        return;
      }
      tbody = h("tbody");
      table.replaceChildren(h("table", { class: "table", id: tableId }, h("thead", {}, h("tr", {}, ...headers())), tbody));
    }
    tbody.append(...page.value.map(row));
  }

  more.addEventListener("click", () => load(true));
  return load;
}

// pagedList searches the collection by the start of field as the person
// types into search; empty(q) gets the search text.
export function pagedList({ collection, field, search, table, more, tableId, headers, row, empty }) {
  let asked = ""; // the search of the request whose answer is shown
  const load = pagedTable({
    path: `/api/v1/${collection}`, table, more, tableId, headers, row,
    filter: () => {
      asked = search.value.trim();
      return asked ? `startswith(${field},${odataString(asked)})` : "";
    },
    empty: () => empty(asked),
  });
  let searchTimer = 0;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => load(false), 200);
  });
  load(false);
}

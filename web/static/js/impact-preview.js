// The passkey policy's impact preview, as the pages show it: one sentence of
// counts, the global administrators and emergency accounts it affects (named
// in full, as a warning), and the first page of the people who lose passkey
// sign-in with "… and N more" and a button that reads the next page. The
// key-models page's allow-list flow and the passkey-policy page's live
// preview both draw it with these.
import { post } from "./api.js";
import { h, badge, busy } from "./ui.js";

export const fido2Path = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2";

// PAGE is how many entries of each long list one answer holds (the
// server's $top when none is given).
const PAGE = 100;

// askPreview asks the server what the proposed policy (the PATCH body) would
// change; skip passes over the first entries of each long list (the next
// page of them).
export const askPreview = (proposal, skip = 0) => post(fido2Path + "/preview" + (skip ? "?$skip=" + skip : ""), proposal);

// pageOf is read for one list of the preview of proposal: its entries after
// the first skip, as the answer for that page gives them.
export const pageOf = (proposal, list) => async (skip) => (await askPreview(proposal, skip))[list] || [];

// count is n followed by the noun's singular or plural form.
const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// summaryText says the preview's counts in one sentence.
export function summaryText(s) {
  return `${count(s.usersLosingPasskeySignIn, "person", "people")} would lose passkey sign-in, ` +
    `${count(s.keysThatStopWorking, "key", "keys")} would stop working, and ` +
    `${count(s.usersInScopeWithoutAcceptableKey, "person", "people")} in scope would hold no acceptable key.`;
}

// privilegedText names every affected global administrator and emergency
// account ("" when there is none).
export function privilegedText(priv) {
  if (!priv || !priv.length) return "";
  return "Affects " + priv.map((u) => u.userPrincipalName +
    (u.isEmergencyAccess ? " (emergency access)" : " (global administrator)")).join(", ") + ".";
}

function who(u) {
  return [u.displayName || u.userPrincipalName, h("div", { class: "cell-sub" }, u.userPrincipalName),
    u.isEmergencyAccess ? badge("Emergency access", "warning") : [], u.isGlobalAdmin ? badge("Global administrator", "warning") : []];
}

// more says how many of a list's total the shown entries leave out, or is
// nothing. With read (pageOf), its button reads the next page and adds each
// entry to list, drawn by entry, until the list is complete.
function more(list, shown, total, id, read, entry) {
  const n = total - shown;
  if (n <= 0) return [];
  const p = h("p", { class: "cell-sub", id }, `… and ${n} more.`);
  if (!read) return p;
  const button = h("button", { type: "button", class: "btn btn-secondary btn-sm", id: id + "-next" },
    `Show ${Math.min(n, PAGE)} more`);
  button.addEventListener("click", async () => {
    busy(button, true);
    let next;
    try {
      next = await read(shown);
    } catch (e) {
      busy(button, false);
      p.replaceChildren(`… and ${n} more. The next page could not be read: ${e.message} `, button);
      return;
    }
    list.append(...next.map(entry));
    // Each page is judged afresh: an empty one ends the list.
    const rest = next.length ? more(list, shown + next.length, total, id, read, entry) : [];
    if (Array.isArray(rest)) p.remove();
    else p.replaceWith(rest);
  });
  p.append(" ", button);
  return p;
}

// userRow is a person of userTable.
const userRow = (u) => h("tr", {}, h("td", {}, who(u)), h("td", {}, (u.models || []).join(", ")));

// userTable lists the people the preview names (its first page); total
// counts them all, and the rest are summed up below the table, with read
// (pageOf) to show them page by page.
export function userTable(users, total, id = "preview-users-table", read) {
  if (!users.length) return h("p", { class: "empty" }, "Nobody loses passkey sign-in.");
  const body = h("tbody", {}, ...users.map(userRow));
  return h("div", {}, h("table", { class: "table", id },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Loses passkey sign-in"), h("th", { scope: "col" }, "Keys that stop working"))),
    body),
  more(body, users.length, total, id.replace(/-table$/, "") + "-more", read, userRow));
}

// modelTable counts, per key model, the keys that stop working and the people holding them.
export function modelTable(byModel, id) {
  if (!byModel || !byModel.length) return h("p", { class: "empty" }, "No key stops working.");
  return h("table", { class: "table", id },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key model"), h("th", { scope: "col" }, "Keys"), h("th", { scope: "col" }, "People"))),
    h("tbody", {}, ...byModel.map((m) => h("tr", {},
      h("td", {}, m.model || "Unknown model", h("div", { class: "cell-sub mono" }, m.aaGuid)),
      h("td", {}, String(m.keys)), h("td", {}, String(m.users))))));
}

// keyItem is a key of keyList: the key, whose it is, and why the proposal
// refuses it.
const keyItem = (k) => h("li", {},
  h("span", { class: "cell-main" }, k.displayName || k.model || "Passkey"), " · ", k.userPrincipalName,
  h("div", { class: "cell-sub" }, k.model && k.model !== k.displayName ? k.model + ": " : "", k.reason || ""));

// keyList lists the keys that stop working (the first page), with read
// (pageOf) to show the rest page by page.
export function keyList(keys, total, id, read) {
  if (!keys || !keys.length) return h("p", { class: "empty" }, "No key stops working.");
  const list = h("ul", { class: "plain-list", id }, ...keys.map(keyItem));
  return h("div", {}, list, more(list, keys.length, total, id + "-more", read, keyItem));
}

// personItem is a person of peopleList, with the models of their keys that
// stop working, if any.
const personItem = (u) => h("li", {}, who(u),
  u.models && u.models.length ? h("div", { class: "cell-sub" }, "Keys that stop working: " + u.models.join(", ")) : []);

// peopleList lists people by name (the first page) with "… and N more",
// and with read (pageOf) a button that shows the rest page by page.
export function peopleList(users, total, id, empty, read) {
  if (!users || !users.length) return h("p", { class: "empty" }, empty);
  const list = h("ul", { class: "plain-list", id }, ...users.map(personItem));
  return h("div", {}, list, more(list, users.length, total, id + "-more", read, personItem));
}

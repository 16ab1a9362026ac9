// The passkey policy's impact preview, as the pages show it: one sentence of
// counts, the global administrators and emergency accounts it affects (named
// in full, as a warning), and the first page of the people who lose passkey
// sign-in with "… and N more". The key-models page's allow-list flow and the
// passkey-policy page's live preview both draw it with these.
import { post } from "./api.js";
import { h, badge } from "./ui.js";

export const fido2Path = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2";

// askPreview asks the server what the proposed policy (the PATCH body) would change.
export const askPreview = (proposal) => post(fido2Path + "/preview", proposal);

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

// more says how many a list's first page leaves out, or nothing.
function more(shown, total, id) {
  const n = total - shown;
  return n > 0 ? h("p", { class: "cell-sub", id }, `… and ${n} more.`) : [];
}

// userTable lists the people the preview names (its first page); total
// counts them all, and the rest are summed up below the table.
export function userTable(users, total, id = "preview-users-table") {
  if (!users.length) return h("p", { class: "empty" }, "Nobody loses passkey sign-in.");
  return h("div", {}, h("table", { class: "table", id },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Loses passkey sign-in"), h("th", { scope: "col" }, "Keys that stop working"))),
    h("tbody", {}, ...users.map((u) => h("tr", {}, h("td", {}, who(u)), h("td", {}, (u.models || []).join(", ")))))),
    more(users.length, total, id.replace(/-table$/, "") + "-more"));
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

// keyList lists the keys that stop working (the first page): each key, whose
// it is, and why the proposal refuses it.
export function keyList(keys, total, id) {
  if (!keys || !keys.length) return h("p", { class: "empty" }, "No key stops working.");
  return h("div", {}, h("ul", { class: "plain-list", id }, ...keys.map((k) => h("li", {},
    h("span", { class: "cell-main" }, k.displayName || k.model || "Passkey"), " · ", k.userPrincipalName,
    h("div", { class: "cell-sub" }, k.model && k.model !== k.displayName ? k.model + ": " : "", k.reason || "")))),
  more(keys.length, total, id + "-more"));
}

// peopleList lists people by name (the first page) with "… and N more",
// each with the models of their keys that stop working, if any.
export function peopleList(users, total, id, empty) {
  if (!users || !users.length) return h("p", { class: "empty" }, empty);
  return h("div", {}, h("ul", { class: "plain-list", id }, ...users.map((u) => h("li", {}, who(u),
    u.models && u.models.length ? h("div", { class: "cell-sub" }, "Keys that stop working: " + u.models.join(", ")) : []))),
  more(users.length, total, id + "-more"));
}

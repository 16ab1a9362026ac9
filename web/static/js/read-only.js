// Admin pages for a role that may read something but not change it show it
// read-only: its controls disabled, and a note saying which role can change
// it. What a role may change (data-grants on <main>) comes from the server's
// own decisions (authz.GrantsOf); the API still refuses whatever it refuses.
import { h } from "./ui.js";

const data = document.getElementById("main").dataset;
const grants = new Set((data.grants || "").split(/\s+/).filter(Boolean));

// may reports whether the signed-in administrator's role holds grant.
export const may = (grant) => grants.has(grant);

// WHO names the roles that hold each grant.
const WHO = {
  directory: "the Global administrator role",
  applications: "the Global administrator role",
  methodPolicies: "the Privileged authentication administrator or Global administrator role",
  methods: "the Authentication administrator, Privileged authentication administrator or Global administrator role",
  methodsOfAdmins: "the Privileged authentication administrator or Global administrator role",
  addMethodsToAdmins: "the Global administrator role",
  conditionalAccess: "the Global administrator role",
};

// needs says, for the note, that what needs the roles of grant.
export function needs(grant, what) {
  return `Read only: ${what} needs ${WHO[grant]}. Your role is ${data.role || "none"}.`;
}

const CONTROLS = "button, input, select, textarea";
const KEEP = '[role="tab"], [data-read-only-keep]';

function disable(root, only) {
  const sel = only || CONTROLS;
  const all = root.matches(sel) ? [root] : Array.from(root.querySelectorAll(sel));
  for (const c of all) {
    if (c.matches(KEEP)) continue;
    c.disabled = true;
    c.dataset.readOnly = "";
  }
}

// readOnly disables the controls of each element in els (a form, a
// section, a button), now and as the page adds more (a table's buttons
// come with its rows); only narrows them to a selector. The note goes
// after noteAfter, or first in the first element.
export function readOnly(els, note, { noteAfter, only } = {}) {
  for (const el of els) {
    if (!el) continue;
    disable(el, only);
    if (!el.matches(CONTROLS)) {
      new MutationObserver(() => disable(el, only)).observe(el, { childList: true, subtree: true });
    }
  }
  if (!note) return;
  const p = h("p", { class: "read-only-note", role: "note" }, note);
  if (noteAfter) noteAfter.after(p);
  else {
    const first = els.find(Boolean);
    const heading = first && first.querySelector(":scope > h2, :scope > h3, :scope > .card-header");
    if (heading) heading.after(p);
    else if (first) first.prepend(p);
  }
  return p;
}

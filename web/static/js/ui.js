// Small DOM helpers shared by the pages. Text is always set as text (never
// HTML), so names that people type cannot inject markup.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// h builds an element: h("a", {href: "/x", class: "btn"}, "text", child…).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// limit reads one of the server's limits that the page carries as a data-*
// attribute on <main> (data-max-profiles → limit("maxProfiles")).
export function limit(name) {
  return Number(document.getElementById("main").dataset[name]);
}

export function show(el, on = true) {
  if (el) el.hidden = !on;
}

// setAlert shows message in an alert element, or hides it for "". A shown
// message is brought into view if it is not: below the fold, or under the
// sticky header (html's scroll-padding-top keeps it clear of that).
export function setAlert(el, message) {
  if (!el) return;
  el.textContent = message || "";
  el.hidden = !message;
  if (message) reveal(el);
}

// reveal scrolls el into view unless it is wholly visible already.
export function reveal(el) {
  const r = el.getBoundingClientRect();
  const header = document.querySelector(".site-header");
  const top = header ? header.getBoundingClientRect().bottom : 0;
  if (r.top < top || r.bottom > window.innerHeight) el.scrollIntoView({ block: "nearest" });
}

// busy disables a button while work runs and shows a spinner in it; the
// button's own content (icon and label) comes back afterwards.
const saved = new WeakMap();
export function busy(button, on, label) {
  if (!button) return;
  if (on) {
    if (!saved.has(button)) saved.set(button, Array.from(button.childNodes));
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), label || button.textContent.trim());
  } else {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (saved.has(button)) button.replaceChildren(...saved.get(button));
    saved.delete(button);
  }
}

export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const t = h("div", { class: "toast" + (kind === "error" ? " toast-error" : "") }, message);
  region.append(t);
  setTimeout(() => t.remove(), 4000);
}

// modal opens a <dialog> and resolves with its returnValue when it closes.
// A close event can arrive late, after the dialog was opened again; each
// opening is a numbered round, so a late event never answers the wrong one.
const rounds = new WeakMap();
export function modal(dlg, focus) {
  const round = (rounds.get(dlg) || 0) + 1;
  rounds.set(dlg, round);
  return new Promise((resolve) => {
    const onClose = () => {
      if (rounds.get(dlg) !== round) {
        dlg.removeEventListener("close", onClose);
        resolve("cancel");
        return;
      }
      if (dlg.open) return; // the late close of an earlier round
      dlg.removeEventListener("close", onClose);
      resolve(dlg.returnValue);
    };
    dlg.addEventListener("close", onClose);
    dlg.returnValue = "";
    dlg.showModal();
    if (focus) focus.focus();
  });
}

// confirmDialog asks before something that cannot be undone.
export async function confirmDialog({ title, message, confirmLabel = "Delete" }) {
  const dlg = document.getElementById("confirm-dialog");
  $("#confirm-title", dlg).textContent = title;
  $("#confirm-message", dlg).textContent = message;
  $("#confirm-ok", dlg).textContent = confirmLabel;
  return (await modal(dlg, $("#confirm-ok", dlg))) === "ok";
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDate(iso, empty = "Never") {
  if (!iso) return empty;
  const d = new Date(iso);
  return isNaN(d) ? empty : dateFormat.format(d);
}

// onSubmit runs an async handler for a form, with its submit button busy.
export function onSubmit(form, handler) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = ev.submitter || form.querySelector('[type="submit"]');
    if (button && button.disabled) return;
    busy(button, true);
    try {
      await handler(ev);
    } finally {
      if (button && button.isConnected) busy(button, false);
    }
  });
}

export function badge(text, kind) {
  return h("span", { class: "badge" + (kind ? " badge-" + kind : "") }, text);
}

export function methodIcon(name) {
  return h("span", { class: "method-icon" }, h("img", { src: "/static/img/method-" + name + ".svg", alt: "" }));
}

// flash keeps a message for the next page (after a redirect) in this tab.
export function flash(kind, message) {
  try {
    sessionStorage.setItem("keyward.flash", JSON.stringify({ kind, message }));
  } catch {
    // Storage disabled: the message is lost, the action still happened.
  }
}

// takeFlash returns and forgets the message flash left, or null.
export function takeFlash() {
  try {
    const v = sessionStorage.getItem("keyward.flash");
    sessionStorage.removeItem("keyward.flash");
    return v ? JSON.parse(v) : null;
  } catch {
    return null;
  }
}

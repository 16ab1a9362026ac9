// One way for every admin form to answer: an error sits beside the field
// that caused it, named by the field's label (the API's messages name the
// JSON field, "userPrincipalName must contain exactly one @"), announced
// (role="alert", and the input's aria-describedby points at it); a problem
// no field owns, and the confirmation of a save, sit beside the button that
// was pressed (role="alert" / role="status"). Whatever appears is brought
// into view clear of the sticky header (setAlert).
import { h, setAlert } from "./ui.js";

// labelOf reads a field's label as the page shows it, without hints such as
// "(optional)" or visually hidden words.
export function labelOf(input) {
  const label = input.id && document.querySelector(`label[for="${CSS.escape(input.id)}"]`);
  if (!label) return input.getAttribute("aria-label") || input.name || "";
  const copy = label.cloneNode(true);
  for (const x of copy.querySelectorAll(".muted")) x.remove();
  return copy.textContent.replace(/\s+/g, " ").trim();
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
// nameRE finds an API field name as a word of its own: "mail", not the
// "mail" of "e-mail"; with a capital first letter too, as the page
// capitalises the API's message ("UserPrincipalName …").
// midSentence lowers a capital that only starts a sentence ("Key model
// AAGUID" → "key model AAGUID"), not an acronym ("AAGUID …" stays).
const midSentence = (s) => (/^[A-Z](?![A-Z])/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s);
const QUOTED = /(“[^”]*”|"[^"]*")/;
// unquoted blanks the quoted values of a message, keeping its length.
const unquoted = (msg) => msg.split(QUOTED).map((p, k) => (k % 2 ? " ".repeat(p.length) : p)).join("");
const nameRE = (n, flags = "") =>
  new RegExp(`(?<![\\w-])[${n[0].toLowerCase()}${n[0].toUpperCase()}]${escape(n.slice(1))}(?![\\w-])`, flags);

// formMessages binds the messages of one form. fields lists its inputs and
// how the API names them: [{input: "#new-upn", names: ["userPrincipalName"],
// words: /\bpassword\b/i}]: a message that mentions one of the names (or
// matches words) belongs beside that input; the earliest mention wins.
// The form-level boxes are #FORMID-error and #FORMID-saved (id names them
// where the form has none).
export function formMessages(form, fields = [], { actions, id = form.id } = {}) {
  const bound = fields.map((f) => ({ ...f, el: typeof f.input === "string" ? form.querySelector(f.input) : f.input }))
    .filter((f) => f.el);
  // Beside the button: after the form's actions row.
  const anchor = actions || form.querySelector(".form-actions") || form.querySelector('[type="submit"]')?.parentElement || form;
  const formError = h("div", { class: "alert alert-error form-message", role: "alert", id: id && id + "-error", hidden: true });
  const formStatus = h("div", { class: "alert alert-success form-message", role: "status", id: id && id + "-saved", hidden: true });
  if (anchor === form) form.append(formError, formStatus);
  else anchor.after(formError, formStatus);

  function errorBox(f) {
    if (f.box) return f.box;
    const id = (f.el.id || "field") + "-error";
    f.box = document.getElementById(id) || h("p", { class: "field-error", role: "alert", id, hidden: true });
    if (!f.box.isConnected) {
      // Right under the input, above its hint; in a checkbox row, under
      // the checkbox's label.
      const holder = f.el.closest(".field, .check, fieldset");
      if (holder && holder.matches(".check")) (holder.querySelector(":scope > div") || holder).append(f.box);
      else if (holder && f.el.parentElement !== holder) holder.append(f.box);
      else f.el.after(f.box);
    }
    const described = (f.el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (!described.includes(id)) f.el.setAttribute("aria-describedby", [...described, id].join(" "));
    return f.box;
  }

  function clear() {
    setAlert(formError, "");
    setAlert(formStatus, "");
    for (const f of bound) {
      f.el.removeAttribute("aria-invalid");
      if (f.box) setAlert(f.box, "");
    }
  }

  // owner finds the field a message is about: the earliest mention.
  function owner(msg) {
    let best = null;
    let at = Infinity;
    const bare = unquoted(msg);
    for (const f of bound) {
      const res = [...(f.names || []).map((n) => nameRE(n)), ...(f.words ? [f.words] : [])];
      for (const re of res) {
        const m = bare.match(re);
        if (m && m.index < at) {
          at = m.index;
          best = f;
        }
      }
    }
    return best;
  }

  // inWords replaces the API's field names with the field's label and
  // makes sure the message starts with that label.
  function inWords(f, msg) {
    const label = labelOf(f.el);
    let text = msg;
    // Only outside quotes: a quoted value (“bob@mail.example”) is the
    // person's own text.
    text = text.split(QUOTED).map((part, k) => {
      if (k % 2) return part;
      for (const n of f.names || []) part = part.replace(nameRE(n, "g"), (_, i) => (k === 0 && i === 0 ? label : midSentence(label)));
      return part;
    }).join("");
    text = text.charAt(0).toUpperCase() + text.slice(1);
    if (!text.toLowerCase().startsWith(label.toLowerCase())) text = `${label}: ${midSentence(text)}`;
    return /[.!?…)]$/.test(text) ? text : text + ".";
  }

  // fieldError puts msg beside the input (a selector or an element).
  function fieldError(input, msg) {
    const f = bound.find((x) => x.el === input || x.input === input) ||
      (() => {
        const el = typeof input === "string" ? form.querySelector(input) : input;
        const x = { el };
        bound.push(x);
        return x;
      })();
    f.el.setAttribute("aria-invalid", "true");
    setAlert(errorBox(f), inWords(f, msg));
  }

  // error shows an error (a message or an Error): beside its field when the
  // message names one, else beside the button.
  function error(e) {
    const msg = typeof e === "string" ? e : e.message;
    const f = owner(msg);
    if (f) fieldError(f.el, msg);
    else setAlert(formError, msg);
  }

  return {
    clear,
    error,
    fieldError,
    saved: (msg) => setAlert(formStatus, msg),
  };
}

// filterError adapts a form's messages to a paged table's showError: "" (a
// new load) clears them; the API's "$filter: " prefix is not the person's
// business, the field the problem is about is.
export function filterError(messages) {
  return (msg) => (msg ? messages.error(msg.replace(/^\$filter: /i, "")) : messages.clear());
}

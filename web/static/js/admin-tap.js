// Admin center — the Temporary Access Pass method policy: default, minimum
// and maximum lifetime, one-time use by default, and length. A save sends
// the whole form as one PATCH; each refused field's reason appears beside it.
// The save applies only to the version the page read (If-Match): when
// someone else saved meanwhile, the page shows both and lets the person
// choose, as the passkey settings page does.
import { getVersioned, patchIfMatch, sentence } from "./api.js";
import { $, h, show, setAlert, onSubmit } from "./ui.js";
import { may, needs, readOnly } from "./read-only.js";

const path = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass";
const form = $("#tap-policy-form");
const savedBox = $("#tap-policy-saved");
const saveErrorBox = $("#tap-policy-save-error");
const conflictBox = $("#tap-conflict");
let etag = null; // the version the form was read at
let conflict = null; // {current, etag} after a save lost to someone else's

// FIELDS maps the API's field names to the inputs and their labels.
const FIELDS = {
  minimumLifetimeInMinutes: ["#tap-min", "Minimum lifetime"],
  maximumLifetimeInMinutes: ["#tap-max", "Maximum lifetime"],
  defaultLifetimeInMinutes: ["#tap-default", "Default lifetime"],
  defaultLength: ["#tap-length", "Length"],
};

function showPolicy(c) {
  $("#tap-min").value = c.minimumLifetimeInMinutes;
  $("#tap-max").value = c.maximumLifetimeInMinutes;
  $("#tap-default").value = c.defaultLifetimeInMinutes;
  $("#tap-length").value = c.defaultLength;
  $("#tap-once").checked = !!c.isUsableOnce;
}

function clearFieldErrors() {
  for (const [sel] of Object.values(FIELDS)) {
    const input = $(sel);
    input.removeAttribute("aria-invalid");
    setAlert($(sel + "-error"), "");
  }
}

// fieldError puts text beside the input of field; false when it has none.
function fieldError(field, text) {
  const f = FIELDS[field];
  if (!f) return false;
  $(f[0]).setAttribute("aria-invalid", "true");
  setAlert($(f[0] + "-error"), sentence(`${f[1]}: ${text}`));
  return true;
}

// wholeNumber reads an input; a value that is not a whole number is
// refused here, beside its field, before anything is sent.
function wholeNumber(field) {
  const v = $(FIELDS[field][0]).value.trim();
  if (!/^\d{1,6}$/.test(v)) {
    fieldError(field, v ? `“${v}” is not a whole number` : "enter a whole number");
    return null;
  }
  return Number(v);
}

// summary describes settings in lines a person compares side by side.
function summary(c) {
  return [
    `Minimum lifetime: ${c.minimumLifetimeInMinutes} minutes`,
    `Maximum lifetime: ${c.maximumLifetimeInMinutes} minutes`,
    `Default lifetime: ${c.defaultLifetimeInMinutes} minutes`,
    `One-time use by default: ${c.isUsableOnce ? "yes" : "no"}`,
    `Length: ${c.defaultLength} characters`,
  ];
}

function showConflict(c, mine) {
  conflict = c;
  show(conflictBox, !!c);
  if (!c) return;
  const a = summary(mine);
  const b = summary(c.current);
  const list = (lines, other) => lines.map((l) => h("li", other.includes(l) ? {} : { class: "changed" }, l));
  $("#tap-conflict-mine").replaceChildren(...list(a, b));
  $("#tap-conflict-current").replaceChildren(...list(b, a));
  conflictBox.scrollIntoView({ block: "nearest" });
  $("#tap-conflict-load-current").focus();
}

$("#tap-conflict-load-current").addEventListener("click", () => {
  etag = conflict.etag;
  showPolicy(conflict.current);
  showConflict(null);
  setAlert(savedBox, "These are the settings as they are saved now. Your changes were discarded.");
});
$("#tap-conflict-keep-mine").addEventListener("click", () => {
  // Saving now replaces the version just shown, knowingly.
  etag = conflict.etag;
  showConflict(null);
  setAlert(saveErrorBox, "Your changes are still here, not saved. Save them to replace the settings saved by someone else.");
});

onSubmit(form, async () => {
  setAlert(savedBox, "");
  setAlert(saveErrorBox, "");
  clearFieldErrors();
  showConflict(null);
  const body = { isUsableOnce: $("#tap-once").checked };
  let bad = false;
  for (const field of Object.keys(FIELDS)) {
    const n = wholeNumber(field);
    if (n === null) bad = true;
    else body[field] = n;
  }
  if (bad) return;
  try {
    const res = await patchIfMatch(path, body, etag);
    etag = res.etag;
    showPolicy(res.data);
    setAlert(savedBox, "The Temporary Access Pass settings were saved. They apply to the next pass issued.");
  } catch (e) {
    if (e.status === 412 && e.data && e.data.current) {
      showConflict({ current: e.data.current, etag: e.etag }, body);
      return;
    }
    // "…was not changed: field: reason; field: reason" — each reason goes
    // beside its field; what cannot be placed stays beside Save.
    const m = e.message.match(/was not changed: (.*)$/);
    const parts = m ? m[1].split("; ") : [];
    let placed = 0;
    for (const p of parts) {
      const i = p.indexOf(": ");
      if (i > 0 && fieldError(p.slice(0, i), p.slice(i + 2))) placed++;
    }
    if (!placed || placed < parts.length) setAlert(saveErrorBox, e.message);
  }
});

getVersioned(path)
  .then((res) => {
    etag = res.etag;
    showPolicy(res.data);
    show(form, true);
    if (!may("methodPolicies")) readOnly([form], needs("methodPolicies", "changing these settings"));
  })
  .catch((e) => setAlert($("#policy-error"), e.message));

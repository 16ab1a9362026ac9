// Admin center — the Temporary Access Pass method policy: default, minimum
// and maximum lifetime, one-time use by default, and length. A save sends
// the whole form as one PATCH; each refused field's reason appears beside it.
import { get, patch, sentence } from "./api.js";
import { $, show, setAlert, onSubmit } from "./ui.js";

const path = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass";
const form = $("#tap-policy-form");
const savedBox = $("#tap-policy-saved");
const saveErrorBox = $("#tap-policy-save-error");

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

onSubmit(form, async () => {
  setAlert(savedBox, "");
  setAlert(saveErrorBox, "");
  clearFieldErrors();
  const body = { isUsableOnce: $("#tap-once").checked };
  let bad = false;
  for (const field of Object.keys(FIELDS)) {
    const n = wholeNumber(field);
    if (n === null) bad = true;
    else body[field] = n;
  }
  if (bad) return;
  try {
    showPolicy(await patch(path, body));
    setAlert(savedBox, "The Temporary Access Pass settings were saved. They apply to the next pass issued.");
  } catch (e) {
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

get(path)
  .then((c) => {
    showPolicy(c);
    show(form, true);
  })
  .catch((e) => setAlert($("#policy-error"), e.message));

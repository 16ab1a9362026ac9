// The step-up page: a signed-in user whose sign-in is not strong enough for
// what they asked for (an app's acr_values, an access rule) signs in again
// with a passkey that is, then goes on to where they were going. The page
// is generic: it takes the strength (data-acr), the key models a strength
// allows (data-models, optional) and where to go (data-next).
import { post, ApiError } from "./api.js";
import { supported, requestOptions, credentialJSON, isAbort, explain } from "./webauthn.js";
import { $, show, setAlert, busy } from "./ui.js";

const main = document.getElementById("main");
const next = main.dataset.next || "/my/security-info";
const acr = main.dataset.acr;
const models = main.dataset.models ? main.dataset.models.split(",") : [];
const button = $("#stepup-passkey");
const status = $("#stepup-status");

function setStatus(msg) {
  status.replaceChildren();
  if (msg) status.append(Object.assign(document.createElement("span"), { className: "spinner" }), " ", msg);
  show(status, !!msg);
}

async function stepUp() {
  setAlert($("#stepup-error"), "");
  busy(button, true, "Waiting for your passkey…");
  try {
    const opts = await post("/api/v1/auth/passkey/step-up/options", { acr, models });
    const cred = await navigator.credentials.get({ publicKey: requestOptions(opts.publicKey) });
    await post("/api/v1/auth/passkey", credentialJSON(cred));
    setStatus("Confirmed. Taking you on…");
    location.assign(next);
  } catch (e) {
    busy(button, false);
    if (!isAbort(e)) setAlert($("#stepup-error"), e instanceof ApiError ? e.message : explain(e, false));
  }
}

if (!supported()) {
  button.disabled = true;
  setAlert($("#stepup-error"), "This browser can't use passkeys. Open this page in a browser that can, such as a current Chrome, Edge, Firefox or Safari.");
} else {
  button.addEventListener("click", stepUp);
}

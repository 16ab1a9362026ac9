// The step-up page: a signed-in user whose sign-in is not strong enough for
// what they asked for (an app's acr_values, an access rule) signs in again
// with a passkey that is, then goes on to where they were going. The page
// is generic: it takes the strength (data-acr), the key models a strength
// allows (data-models, optional) and where to go (data-next). A user with
// no such passkey who may set one up sees it in register mode
// (data-mode="register"): they create the passkey here, then use it once,
// which is what gives the sign-in (data-mode="reauth" only links to a fresh
// sign-in that comes back here).
import { post, ApiError } from "./api.js";
import { supported, creationOptions, requestOptions, credentialJSON, isAbort, explain } from "./webauthn.js";
import { $, show, setAlert, busy } from "./ui.js";

const main = document.getElementById("main");
const next = main.dataset.next || "/my/security-info";
const acr = main.dataset.acr;
const mode = main.dataset.mode || "passkey";
const models = main.dataset.models ? main.dataset.models.split(",") : [];
const status = $("#stepup-status");

function setStatus(msg) {
  if (!status) return;
  status.replaceChildren();
  if (msg) status.append(Object.assign(document.createElement("span"), { className: "spinner" }), " ", msg);
  show(status, !!msg);
}

async function stepUp(button) {
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

// register creates the passkey the step-up needs (only of the models it
// allows, device-bound for phrh), then comes back to this page, which now
// offers that passkey for the sign-in.
async function register(button) {
  setAlert($("#stepup-error"), "");
  busy(button, true, "Waiting for your passkey…");
  const wanted = { models, deviceBound: acr === "phrh" };
  try {
    const opts = await post("/api/v1/me/passkeys/registration/options",
      { ...wanted, hints: acr === "phrh" || models.length ? ["security-key"] : [] });
    const cred = await navigator.credentials.create({ publicKey: creationOptions(opts.publicKey) });
    await post("/api/v1/me/passkeys", { ...wanted, displayName: "", publicKeyCredential: credentialJSON(cred) });
    setStatus("Your passkey is set up.");
    const q = new URLSearchParams({ acr, next, registered: "1" });
    if (models.length) q.set("models", models.join(","));
    location.assign("/login/step-up?" + q.toString());
  } catch (e) {
    busy(button, false);
    if (!isAbort(e)) setAlert($("#stepup-error"), e instanceof ApiError ? e.message : explain(e, true));
  }
}

const button = mode === "register" ? $("#stepup-register") : $("#stepup-passkey");
if (button) {
  if (!supported()) {
    button.disabled = true;
    setAlert($("#stepup-error"), "This browser can't use passkeys. Open this page in a browser that can, such as a current Chrome, Edge, Firefox or Safari.");
  } else {
    button.addEventListener("click", () => (mode === "register" ? register(button) : stepUp(button)));
  }
}

// The sign-in page: username first, then the methods the account has
// (passkey, password + authenticator code, Temporary Access Pass); a
// username-less passkey sign-in; and passkeys offered by the browser's
// autofill on the username field (conditional mediation).
import { get, post, ApiError, setCsrfToken } from "./api.js";
import { supported, requestOptions, creationOptions, credentialJSON, isAbort, explain, signal, signalAccount, conditionalCreateSupported } from "./webauthn.js";
import { $, $$, show, setAlert, busy, onSubmit } from "./ui.js";

const main = document.getElementById("main");
const next = main.dataset.next || "";
const errorBox = $("#login-error");
const statusBox = $("#login-status");
const steps = ["step-username", "step-password", "step-totp", "step-tap"];

let username = "";
let conditional = null; // AbortController of the autofill request

function showStep(id, focus) {
  for (const s of steps) show(document.getElementById(s), s === id);
  setStatus("");
  const el = focus && $(focus);
  if (el) el.focus();
}

function setError(msg) {
  setAlert(errorBox, msg);
}

function setStatus(msg) {
  statusBox.replaceChildren();
  if (msg) statusBox.append(Object.assign(document.createElement("span"), { className: "spinner" }), " ", msg);
  show(statusBox, !!msg);
}

// finish leaves the page once signed in. After a Temporary Access Pass the
// point is to set up a passkey, so that is where the user lands.
async function finish(viaPass) {
  setStatus("Signed in. Taking you on…");
  // After each sign-in the browser learns which of the user's passkeys still count.
  let upgraded = false;
  try {
    const s = await get("/api/v1/me/passkeys/signals");
    await signalAccount(s);
    if (s.automaticUpgrade && !viaPass) upgraded = await automaticUpgrade();
  } catch {
    // a courtesy to the browser: never in the way of signing in
  }
  location.assign(next || (upgraded ? "/my/security-info?upgraded=1" : viaPass ? "/my/security-info?add=passkey" : "/my/security-info"));
}

// UPGRADE_WAIT_MS bounds how long the sign-in waits for the browser to
// create a passkey without asking: it answers at once when it will.
const UPGRADE_WAIT_MS = 3000;

// automaticUpgrade asks the browser for a passkey with conditional
// mediation right after a password sign-in (the server said it may): the
// password manager creates one without a prompt if the user allows it.
// Anything else (no support, no answer, refusal) leaves things as they were.
async function automaticUpgrade() {
  if (!(await conditionalCreateSupported())) return false;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), UPGRADE_WAIT_MS);
  try {
    // The page was rendered before the sign-in: it takes the new session's token.
    setCsrfToken((await get("/api/v1/me")).csrfToken);
    const opts = await post("/api/v1/me/passkeys/registration/options", { automatic: true });
    const cred = await navigator.credentials.create({
      mediation: "conditional", publicKey: creationOptions(opts.publicKey), signal: ctrl.signal,
    });
    await post("/api/v1/me/passkeys", { displayName: "", publicKeyCredential: credentialJSON(cred) });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// forgetUnknown handles a passkey Keyward does not know (deleted, or from
// another install): the browser is told to drop it, and the person what to
// do instead. It returns the message to show, or "" for other errors.
function forgetUnknown(e, cred, rpId) {
  if (!(e instanceof ApiError) || e.code !== "unknownCredential" || !cred) return "";
  signal("signalUnknownCredential", { rpId, credentialId: cred.id });
  return "This passkey was removed from your account, so your browser or password manager has been asked to forget it. " +
    "Sign in with your password or another passkey, or ask your administrator for a Temporary Access Pass and then add a new passkey.";
}

function messageOf(e) {
  return e instanceof ApiError ? e.message : explain(e, false);
}

// --- username step ---

onSubmit($("#step-username"), async () => {
  setError("");
  const value = $("#username").value.trim();
  if (!value) {
    setError("Enter your username, for example someone@example.com.");
    $("#username").focus();
    return;
  }
  let methods;
  try {
    methods = await post("/api/v1/auth/methods", { username: value });
  } catch (e) {
    setError(messageOf(e));
    return;
  }
  username = value;
  stopConditional();
  for (const el of $$(".identity-name")) el.textContent = username;
  const passkey = !!methods.passkey && supported();
  const password = !!methods.password;
  show($("#password-fields"), password);
  show($("#password-submit"), password);
  show($("#passkey-for-user"), passkey);
  show($("#no-password-note"), !password && passkey);
  show($("#tap-for-user"), !!methods.temporaryAccessPass);
  $("#password").value = "";
  if (!password && !passkey && !methods.temporaryAccessPass) {
    showStep("step-username", "#username");
    setError("This account can't sign in yet. Ask your administrator for a Temporary Access Pass.");
    return;
  }
  showStep("step-password", password ? "#password" : "#passkey-for-user");
});

// --- password and second factor ---

onSubmit($("#step-password"), async () => {
  setError("");
  const password = $("#password").value;
  if (!password) {
    setError("Enter your password.");
    $("#password").focus();
    return;
  }
  try {
    const res = await post("/api/v1/auth/password", { username, password });
    if (res && res.status === "secondFactorRequired") {
      $("#totp-code").value = "";
      showStep("step-totp", "#totp-code");
      return;
    }
    finish(false);
  } catch (e) {
    $("#password").value = "";
    $("#password").focus();
    setError(messageOf(e));
  }
});

onSubmit($("#step-totp"), async () => {
  setError("");
  const code = $("#totp-code").value.replace(/\s+/g, "");
  if (!/^[0-9]{6}$/.test(code)) {
    setError("Enter the 6-digit code from your authenticator app.");
    $("#totp-code").focus();
    return;
  }
  try {
    await post("/api/v1/auth/totp", { code });
    finish(false);
  } catch (e) {
    $("#totp-code").value = "";
    $("#totp-code").focus();
    setError(messageOf(e));
  }
});

// --- Temporary Access Pass ---

for (const b of $$('[data-action="show-tap"]')) {
  b.addEventListener("click", () => {
    setError("");
    stopConditional();
    $("#tap-username").value = username || $("#username").value.trim();
    $("#tap-code").value = "";
    showStep("step-tap", $("#tap-username").value ? "#tap-code" : "#tap-username");
  });
}

onSubmit($("#step-tap"), async () => {
  setError("");
  const user = $("#tap-username").value.trim();
  const pass = $("#tap-code").value.trim();
  if (!user || !pass) {
    setError("Enter your username and the Temporary Access Pass your administrator gave you.");
    return;
  }
  try {
    await post("/api/v1/auth/tap", { username: user, temporaryAccessPass: pass });
    finish(true);
  } catch (e) {
    setError(messageOf(e));
  }
});

for (const b of $$('[data-action="back"]')) {
  b.addEventListener("click", () => {
    setError("");
    showStep("step-username", "#username");
    startConditional();
  });
}

// --- passkeys ---

async function passkeySignIn(button, user) {
  setError("");
  stopConditional();
  busy(button, true, "Waiting for your passkey…");
  setStatus("Follow your browser's instructions: touch your security key, or use your face, fingerprint or PIN.");
  let cred = null, rpId = "";
  try {
    const opts = await post("/api/v1/auth/passkey/options", user ? { username: user } : {});
    rpId = opts.publicKey.rpId;
    cred = await navigator.credentials.get({ publicKey: requestOptions(opts.publicKey) });
    await post("/api/v1/auth/passkey", credentialJSON(cred));
    await finish(false);
  } catch (e) {
    setStatus("");
    offerInstead(e);
    setError(forgetUnknown(e, cred, rpId) || messageOf(e));
  } finally {
    busy(button, false);
  }
}

// offerInstead shows, after a key whose model is no longer accepted, the
// account's other ways in right there: the password form, another passkey,
// or the Temporary Access Pass link the refusal tells the user to ask for.
function offerInstead(e) {
  const instead = e instanceof ApiError && e.data && e.data.error && e.data.error.signInInstead;
  if (!instead || !instead.username) return;
  const methods = instead.methods || [];
  username = instead.username;
  for (const el of $$(".identity-name")) el.textContent = username;
  const password = methods.includes("password");
  show($("#password-fields"), password);
  show($("#password-submit"), password);
  show($("#passkey-for-user"), methods.includes("passkey") && supported());
  show($("#no-password-note"), false);
  show($("#tap-for-user"), true);
  $("#password").value = "";
  showStep("step-password", password ? "#password" : methods.length ? "#passkey-for-user" : "#tap-for-user");
}

$("#passkey-for-user").addEventListener("click", (ev) => passkeySignIn(ev.currentTarget, username));
$("#passkey-discoverable").addEventListener("click", (ev) => passkeySignIn(ev.currentTarget, ""));
if (!supported()) show($("#passkey-discoverable"), false);

function stopConditional() {
  if (conditional) {
    conditional.abort();
    conditional = null;
  }
}

// startConditional lets the browser offer this site's passkeys in the
// username field's autofill; choosing one signs in at once.
async function startConditional() {
  if (conditional || !supported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
  const ctrl = new AbortController();
  conditional = ctrl;
  let cred = null, rpId = "";
  try {
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    const opts = await post("/api/v1/auth/passkey/options", {});
    if (ctrl.signal.aborted) return;
    rpId = opts.publicKey.rpId;
    cred = await navigator.credentials.get({
      mediation: "conditional", publicKey: requestOptions(opts.publicKey), signal: ctrl.signal,
    });
    setStatus("Signing you in…");
    await post("/api/v1/auth/passkey", credentialJSON(cred));
    await finish(false);
  } catch (e) {
    if (!isAbort(e) && !ctrl.signal.aborted) {
      setStatus("");
      offerInstead(e);
      setError(forgetUnknown(e, cred, rpId) || messageOf(e));
    }
  } finally {
    if (conditional === ctrl) conditional = null;
  }
}

$("#username").focus();
startConditional();

// First-run setup: check the one-time link, create the first global
// administrator (who is then signed in, and by default turns passkeys on
// for all users), and send them to add a passkey.
import { get, post } from "./api.js";
import { $, show, setAlert, onSubmit, limit } from "./ui.js";

const token = document.getElementById("main").dataset.token || "";
const form = $("#setup-form");
const errorBox = $("#setup-error");

async function check() {
  try {
    const res = await get("/api/v1/setup?token=" + encodeURIComponent(token));
    show($("#setup-checking"), false);
    if (res && res.valid) {
      show(form, true);
      $("#setup-upn").focus();
      return;
    }
  } catch (e) {
    show($("#setup-checking"), false);
    if (e.status !== 404 && e.status !== 410 && e.status !== 400) {
      setAlert(errorBox, e.message);
      return;
    }
  }
  show($("#setup-invalid"), true);
}

onSubmit(form, async () => {
  setAlert(errorBox, "");
  const upn = $("#setup-upn").value.trim();
  const name = $("#setup-name").value.trim();
  const password = $("#setup-password").value;
  const problems = [];
  if (!/^[^@\s]+@[^@\s]+$/.test(upn)) problems.push("Enter a username written like name@your-domain.");
  if (!name) problems.push("Enter a display name.");
  if ([...password].length < limit("minPassword")) problems.push(`Choose a password of at least ${limit("minPassword")} characters.`);
  else if (password !== $("#setup-password2").value) problems.push("The two passwords differ.");
  if (problems.length) {
    setAlert(errorBox, problems.join(" "));
    return;
  }
  try {
    await post("/api/v1/setup", {
      token, userPrincipalName: upn, displayName: name, password, enablePasskeys: $("#setup-passkeys").checked,
    });
  } catch (e) {
    setAlert(errorBox, e.message);
    return;
  }
  location.assign("/my/security-info?add=passkey&welcome=1");
});

check();

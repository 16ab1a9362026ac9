// Admin center — authentication methods: the Passkey (FIDO2) policy's state
// and target; the other methods are always on.
import { get, listAll } from "./api.js";
import { $, badge, setAlert } from "./ui.js";

const path = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2";

async function load() {
  const policy = await get(path);
  const enabled = policy.state === "enabled";
  $("#fido2-state").replaceChildren(enabled ? badge("Yes", "success") : badge("No"));
  const targets = policy.includeTargets || [];
  if (targets.some((t) => t.id === "all_users")) {
    $("#fido2-target").textContent = "All users";
  } else if (!targets.length) {
    $("#fido2-target").textContent = "No one";
  } else {
    let names = {};
    try {
      names = Object.fromEntries((await listAll("/api/v1/groups?$top=999")).map((g) => [g.id, g.displayName]));
    } catch {
      // Names are a nicety; the count still tells the admin something.
    }
    $("#fido2-target").textContent = targets.map((t) => names[t.id] || "Unknown group").join(", ");
  }
}

load().catch((e) => setAlert($("#page-error"), e.message));

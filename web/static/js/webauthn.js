// WebAuthn glue: the API sends options as JSON (binary fields base64url) and
// takes the credential back as PublicKeyCredential.toJSON() gives it. Modern
// browsers do the conversion themselves; older ones get the manual decoding.

export function supported() {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

function fromB64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function toB64url(buf) {
  if (!buf) return undefined;
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const decodeDescriptors = (list) => (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }));

// creationOptions turns the API's JSON creation options into what
// navigator.credentials.create takes.
export function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    try {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    } catch {
      // Fall through: an option this browser's parser does not know.
    }
  }
  return {
    ...json,
    challenge: fromB64url(json.challenge),
    user: { ...json.user, id: fromB64url(json.user.id) },
    excludeCredentials: decodeDescriptors(json.excludeCredentials),
  };
}

// requestOptions is creationOptions for navigator.credentials.get.
export function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    try {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    } catch {
      // Fall through to manual decoding.
    }
  }
  const out = { ...json, challenge: fromB64url(json.challenge) };
  if (json.allowCredentials) out.allowCredentials = decodeDescriptors(json.allowCredentials);
  return out;
}

// credentialJSON is the credential as the API takes it.
export function credentialJSON(cred) {
  if (typeof cred.toJSON === "function") {
    try {
      return cred.toJSON();
    } catch {
      // Fall through to manual encoding.
    }
  }
  const r = cred.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    if (r.userHandle) response.userHandle = toB64url(r.userHandle);
  }
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    response,
  };
}

// isAbort tells a cancelled request (which needs no message) from a failure.
export function isAbort(e) {
  return e && e.name === "AbortError";
}

// explain turns a browser's WebAuthn error into a sentence for people.
export function explain(e, creating) {
  switch (e && e.name) {
    case "NotAllowedError":
      return creating
        ? "The security key set-up was cancelled or timed out. Try again, and follow your browser's instructions."
        : "Sign-in with a passkey was cancelled or timed out, or no passkey for this site was found on your device or security key.";
    case "InvalidStateError":
      return creating
        ? "This security key is already registered for your account. Use another key, or rename the one you have."
        : "Your browser could not use this passkey. Try again.";
    case "SecurityError":
      return "Your browser refused passkeys on this address: it does not match the address Keyward is configured for. Open Keyward at its usual address.";
    case "NotSupportedError":
      return "Your browser or key does not support the kind of passkey Keyward asks for.";
    case "ConstraintError":
      return "Your key cannot do what Keyward needs (for example, a PIN or a resident credential).";
    default:
      return (e && e.message) || "Something went wrong with the passkey. Try again.";
  }
}

// signal calls one of the WebAuthn Signal API's methods
// (PublicKeyCredential.signalUnknownCredential, signalAllAcceptedCredentials,
// signalCurrentUserDetails) when the browser has it, so the browser or
// password manager keeps its passkey list true. Without the API, or when
// the call fails, nothing happens: a signal is a courtesy, never a step.
export async function signal(name, arg) {
  if (!supported() || typeof PublicKeyCredential[name] !== "function") return false;
  try {
    await PublicKeyCredential[name](arg);
    return true;
  } catch {
    return false;
  }
}

// signalAccount tells the browser which of this user's passkeys Keyward
// accepts and under which names (GET /api/v1/me/passkeys/signals).
export async function signalAccount(s) {
  await signal("signalAllAcceptedCredentials", { rpId: s.rpId, userId: s.userId, allAcceptedCredentialIds: s.allAcceptedCredentialIds });
  await signal("signalCurrentUserDetails", { rpId: s.rpId, userId: s.userId, name: s.name, displayName: s.displayName });
}

// conditionalCreateSupported tells whether the browser can create a passkey
// without asking (WebAuthn Level 3 conditional create), as reported by
// PublicKeyCredential.getClientCapabilities(). Without the API: false.
export async function conditionalCreateSupported() {
  if (!supported() || typeof PublicKeyCredential.getClientCapabilities !== "function") return false;
  try {
    const caps = await PublicKeyCredential.getClientCapabilities();
    return !!(caps && caps.conditionalCreate);
  } catch {
    return false;
  }
}

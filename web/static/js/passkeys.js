// How a passkey is described to people: one wording for My security info and
// the admin center's user page alike. A synced passkey is backed up by its
// provider; a device-bound one stays on its key or device.
export function passkeyKind(p) {
  if (p.passkeyType === "synced") return "Synced passkey";
  return (p.transports || []).includes("internal") ? "Passkey on a device (device-bound)" : "Security key (device-bound)";
}

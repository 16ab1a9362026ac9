// Admin center — the Passkey (FIDO2) policy: "Enable and target" (on/off,
// all users or groups with their passkey profiles, exclusions) and
// "Configure" (self-service set-up, passkey profiles with types,
// attestation and key restrictions). The page edits a draft and saves the
// whole configuration with one PATCH, as the API takes it. The AAGUID lists
// show model names the server looks up (FIDO Metadata Service first, then
// the built-in list of well-known providers).
import { get, getVersioned, patchIfMatch, listAll, sentence } from "./api.js";
import { $, $$, h, show, setAlert, onSubmit, limit, confirmDialog } from "./ui.js";
import { may, needs, readOnly } from "./read-only.js";
import { fido2Path as path, askPreview, pageOf, summaryText, privilegedText, modelTable, keyList, peopleList } from "./impact-preview.js";
const ALL = "all_users";
const MAX_PROFILES = limit("maxProfiles");
const MAX_LOOKUP = limit("maxAaguidsPerRequest"); // AAGUIDs per models request, as the API allows
const AAGUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const form = $("#policy-form");
const errorBox = $("#policy-error");
const savedBox = $("#policy-saved");
const saveErrorBox = $("#policy-save-error");
const conflictBox = $("#policy-conflict");

let saved = null; // the policy as stored
let etag = null; // its version: a save applies only while it is still current
let conflict = null; // {current, etag} after a save lost to someone else's
let draft = null; // what the form shows
let groups = []; // [{id, displayName}]
let providers = []; // [{name, aaGuids}]
let catalog = []; // [{aaGuid, model, source}]: every model the server can name, for the picker
const modelOf = {}; // AAGUID → {model, source} from the models API ("" when unknown)
let setAsideGroups = []; // group targets kept while "All users" is chosen

const clone = (v) => JSON.parse(JSON.stringify(v));
const groupName = (id) => (id === ALL ? "All users" : (groups.find((g) => g.id === id) || {}).displayName || "Unknown group");
const profileName = (id) => (draft.passkeyProfiles.find((p) => p.id === id) || {}).name || id;

function dirty() {
  setAlert(savedBox, "");
  schedulePreview();
}

// --- the impact preview, live beside the editor ---

// Each change to the form asks the server, PREVIEW_DELAY ms after the last
// one, what saving the form as it is would change. Only the latest request's
// answer is shown: an older one arriving late is dropped, and while a newer
// one is pending the shown result is marked as out of date. A failed preview
// shows its error instead of the previous result.
const PREVIEW_DELAY = 300;
let previewTimer = 0;
let previewSeq = 0;

function schedulePreview() {
  if (!draft) return;
  clearTimeout(previewTimer);
  const seq = ++previewSeq;
  $("#impact-live").setAttribute("aria-busy", "true");
  $("#impact-status").textContent = "Updating the preview…";
  previewTimer = setTimeout(() => runPreview(seq), PREVIEW_DELAY);
}

async function runPreview(seq) {
  let p;
  const asked = proposal();
  try {
    p = await askPreview(asked);
  } catch (e) {
    if (seq !== previewSeq) return;
    $("#impact-live").setAttribute("aria-busy", "false");
    $("#impact-status").textContent = "";
    show($("#impact-result"), false);
    $("#impact-error").textContent = "The preview could not be worked out for the form as it is now: " + e.message;
    show($("#impact-error"), true);
    return;
  }
  if (seq !== previewSeq) return;
  const s = p.summary;
  $("#impact-live").setAttribute("aria-busy", "false");
  $("#impact-status").textContent = "";
  show($("#impact-error"), false);
  $("#impact-summary").textContent = summaryText(s);
  const priv = privilegedText(p.privilegedUsersAffected);
  $("#impact-privileged").textContent = priv;
  show($("#impact-privileged"), !!priv);
  // Each list's next pages are of the form as it was asked about.
  $("#impact-users").replaceChildren(peopleList(p.usersLosingPasskeySignIn, s.usersLosingPasskeySignIn,
    "impact-users-list", "Nobody loses passkey sign-in.", pageOf(asked, "usersLosingPasskeySignIn")));
  $("#impact-models").replaceChildren(modelTable(p.keysThatStopWorkingByModel, "impact-models-table"));
  $("#impact-keys").replaceChildren(keyList(p.keysThatStopWorking, s.keysThatStopWorking, "impact-keys-list",
    pageOf(asked, "keysThatStopWorking")));
  $("#impact-no-key").replaceChildren(peopleList(p.usersInScopeWithoutAcceptableKey, s.usersInScopeWithoutAcceptableKey,
    "impact-no-key-list", "Everyone in scope who holds a passkey keeps an acceptable one.",
    pageOf(asked, "usersInScopeWithoutAcceptableKey")));
  show($("#impact-result"), true);
}

// --- tabs ---

function selectTab(tab) {
  for (const t of $$('[role="tab"]', form)) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    show(document.getElementById(t.getAttribute("aria-controls")), on);
  }
}
for (const t of $$('[role="tab"]', form)) {
  t.addEventListener("click", () => selectTab(t));
  t.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const tabs = $$('[role="tab"]', form);
    const i = (tabs.indexOf(t) + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
    tabs[i].focus();
    selectTab(tabs[i]);
  });
}

// --- Enable and target ---

function profileChecks(target) {
  if (draft.passkeyProfiles.length < 2) {
    return h("span", { class: "small muted" }, "Profile: " + profileName((target.allowedPasskeyProfiles || [])[0] || draft.passkeyProfiles[0].id));
  }
  const allowed = new Set(target.allowedPasskeyProfiles || []);
  return h("fieldset", { class: "row" }, h("legend", { class: "visually-hidden" }, `Passkey profiles for ${groupName(target.id)}`),
    draft.passkeyProfiles.map((p) => {
      const cid = `t-${target.id}-${p.id}`;
      const box = h("input", { type: "checkbox", id: cid, checked: allowed.has(p.id) });
      box.addEventListener("change", () => {
        const set = new Set(target.allowedPasskeyProfiles || []);
        if (box.checked) set.add(p.id);
        else set.delete(p.id);
        target.allowedPasskeyProfiles = draft.passkeyProfiles.map((q) => q.id).filter((x) => set.has(x));
        dirty();
      });
      return h("div", { class: "check" }, box, h("label", { for: cid }, p.name));
    }));
}

function removeButton(label, onclick) {
  return h("button", { type: "button", class: "btn btn-link danger btn-sm", "aria-label": label, onclick }, "Remove");
}

function renderTargets() {
  $("#policy-enabled").checked = draft.state === "enabled";
  const all = draft.includeTargets.some((t) => t.id === ALL);
  $("#include-all").checked = all;
  $("#include-groups").checked = !all;
  const inc = $("#include-list");
  if (!draft.includeTargets.length) {
    inc.replaceChildren(h("li", { class: "empty muted" }, "No groups yet: nobody can use passkeys until you add one."));
  } else {
    inc.replaceChildren(...draft.includeTargets.map((t) => h("li", { dataset: { targetId: t.id } },
      h("span", { class: "grow cell-main" }, groupName(t.id)), profileChecks(t),
      all ? null : removeButton(`Remove ${groupName(t.id)}`, () => {
        draft.includeTargets = draft.includeTargets.filter((x) => x !== t);
        dirty();
        renderTargets();
      }))));
  }
  show($("#include-add"), !all);
  fillGroupSelect($("#include-group-select"), new Set(draft.includeTargets.map((t) => t.id)), "Choose a group to include");

  const exc = $("#exclude-list");
  if (!draft.excludeTargets.length) {
    exc.replaceChildren(h("li", { class: "empty muted" }, "No exclusions."));
  } else {
    exc.replaceChildren(...draft.excludeTargets.map((t) => h("li", { dataset: { targetId: t.id } },
      h("span", { class: "grow cell-main" }, groupName(t.id)),
      removeButton(`Remove exclusion of ${groupName(t.id)}`, () => {
        draft.excludeTargets = draft.excludeTargets.filter((x) => x !== t);
        dirty();
        renderTargets();
      }))));
  }
  fillGroupSelect($("#exclude-group-select"), new Set(draft.excludeTargets.map((t) => t.id)), "Choose a group to exclude");
}

// fillGroupSelect offers the groups not yet listed; with none left, the
// select and its Add button are disabled, and the select says why.
function fillGroupSelect(select, taken, prompt) {
  const free = groups.filter((g) => !taken.has(g.id));
  select.replaceChildren(h("option", { value: "" }, free.length ? prompt : groups.length ? "Every group is already listed" : "No groups yet"),
    ...free.map((g) => h("option", { value: g.id }, g.displayName)));
  select.disabled = !free.length;
  const add = select.parentElement.querySelector("button");
  if (add) add.disabled = !free.length;
}

$("#policy-enabled").addEventListener("change", (ev) => {
  draft.state = ev.target.checked ? "enabled" : "disabled";
  dirty();
});
$("#include-all").addEventListener("change", () => {
  setAsideGroups = draft.includeTargets.filter((t) => t.id !== ALL);
  draft.includeTargets = [{ targetType: "group", id: ALL, allowedPasskeyProfiles: [draft.passkeyProfiles[0].id] }];
  dirty();
  renderTargets();
});
$("#include-groups").addEventListener("change", () => {
  draft.includeTargets = setAsideGroups;
  setAsideGroups = [];
  dirty();
  renderTargets();
});
$("#include-group-add").addEventListener("click", () => {
  const id = $("#include-group-select").value;
  if (!id) return;
  draft.includeTargets.push({ targetType: "group", id, allowedPasskeyProfiles: [draft.passkeyProfiles[0].id] });
  dirty();
  renderTargets();
  $("#include-group-select").focus();
});
$("#exclude-group-add").addEventListener("click", () => {
  const id = $("#exclude-group-select").value;
  if (!id) return;
  draft.excludeTargets.push({ targetType: "group", id });
  dirty();
  renderTargets();
  $("#exclude-group-select").focus();
});

// --- Configure ---

function types(p) {
  const s = Array.isArray(p.passkeyTypes) ? p.passkeyTypes.join(",") : String(p.passkeyTypes || "");
  return new Set(s.split(",").map((x) => x.trim()).filter(Boolean));
}

function renderProfiles() {
  $("#policy-self-service").checked = !!draft.isSelfServiceRegistrationAllowed;
  $("#profiles").replaceChildren(...draft.passkeyProfiles.map(renderProfile));
  $("#profile-add").disabled = draft.passkeyProfiles.length >= MAX_PROFILES;
}

function renderProfile(p, index) {
  const el = $("#profile-template").content.firstElementChild.cloneNode(true);
  const prefix = `p${index}-`;
  for (const x of $$("[data-id]", el)) x.id = prefix + x.dataset.id;
  for (const x of $$("[data-for]", el)) x.htmlFor = prefix + x.dataset.for;
  const q = (name) => $("#" + prefix + name, el);
  el.dataset.profileId = p.id;
  $(".profile-legend", el).replaceChildren(p.name || "New profile", ...(index === 0 ? [" ", h("span", { class: "badge badge-info" }, "Default")] : []));
  show($('[data-action="remove-profile"]', el), index > 0);

  q("name").value = p.name;
  q("name").addEventListener("input", () => {
    p.name = q("name").value;
    dirty();
  });
  const t = types(p);
  q("deviceBound").checked = t.has("deviceBound");
  q("synced").checked = t.has("synced");
  for (const k of ["deviceBound", "synced"]) {
    q(k).addEventListener("change", () => {
      p.passkeyTypes = ["deviceBound", "synced"].filter((x) => q(x).checked).join(",");
      dirty();
    });
  }
  q("attestation").checked = p.attestationEnforcement === "registrationOnly";
  q("attestation").addEventListener("change", () => {
    p.attestationEnforcement = q("attestation").checked ? "registrationOnly" : "disabled";
    dirty();
  });

  const kr = p.keyRestrictions;
  kr.aaGuids = kr.aaGuids || [];
  const restrictions = $(".restrictions", el);
  q("restrict").checked = !!kr.isEnforced;
  show(restrictions, !!kr.isEnforced);
  q("restrict").addEventListener("change", () => {
    kr.isEnforced = q("restrict").checked;
    show(restrictions, kr.isEnforced);
    dirty();
  });
  for (const mode of ["allow", "block"]) {
    const r = q(mode);
    r.name = prefix + "enforcement";
    r.checked = kr.enforcementType === mode;
    r.addEventListener("change", () => {
      kr.enforcementType = mode;
      dirty();
    });
  }
  renderAAGUIDs(kr, $(".aaguid-list", el));

  const addAAGUIDs = (ids) => {
    for (const v of ids) if (!kr.aaGuids.includes(v)) kr.aaGuids.push(v);
    dirty();
    renderAAGUIDs(kr, $(".aaguid-list", el));
    lookupModels(ids);
  };
  // Errors of the two add fields sit beside the field that caused them.
  const fieldError = (id, msg) => {
    setAlert(q(id + "-error"), msg);
    if (msg) q(id).setAttribute("aria-invalid", "true");
    else q(id).removeAttribute("aria-invalid");
    if (msg) q(id).focus();
  };
  const addAAGUID = () => {
    const v = q("aaguid").value.trim().toLowerCase();
    if (!AAGUID_RE.test(v)) {
      fieldError("aaguid", `“${q("aaguid").value.trim()}” is not an AAGUID: write it as 32 hexadecimal digits in the form 8-4-4-4-12, e.g. cb69481e-8ff7-4039-93ec-0a2729a154a8.`);
      return;
    }
    fieldError("aaguid", "");
    q("aaguid").value = "";
    addAAGUIDs([v]);
  };
  // addModel takes a model picked from the list ("Name · AAGUID"), or a
  // name typed whole, which adds every AAGUID of that name.
  const addModel = () => {
    const typed = q("model").value.trim();
    const picked = typed.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    const ids = picked ? [picked[0].toLowerCase()] : catalog.filter((m) => m.model.toLowerCase() === typed.toLowerCase()).map((m) => m.aaGuid);
    if (!typed || !ids.length) {
      fieldError("model", typed ? `No known key model is called “${typed}”. Pick one from the list as you type, or paste its AAGUID below.`
        : "Type part of a model's name, then pick it from the list.");
      return;
    }
    fieldError("model", "");
    q("model").value = "";
    addAAGUIDs(ids);
  };
  $('[data-action="add-model"]', el).addEventListener("click", addModel);
  q("model").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      addModel();
    }
  });
  $('[data-action="add-aaguid"]', el).addEventListener("click", addAAGUID);
  q("aaguid").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      addAAGUID();
    }
  });
  q("provider").replaceChildren(h("option", { value: "" }, "Choose a well-known provider"),
    ...providers.map((pr, i) => h("option", { value: String(i) }, `${pr.name} (${pr.aaGuids.length} AAGUID${pr.aaGuids.length === 1 ? "" : "s"})`)));
  $('[data-action="add-provider"]', el).addEventListener("click", () => {
    const pr = providers[Number(q("provider").value)];
    if (!q("provider").value || !pr) return;
    for (const a of pr.aaGuids) if (!kr.aaGuids.includes(a)) kr.aaGuids.push(a);
    dirty();
    renderAAGUIDs(kr, $(".aaguid-list", el));
    lookupModels(pr.aaGuids);
  });
  $('[data-action="remove-profile"]', el).addEventListener("click", () => {
    draft.passkeyProfiles = draft.passkeyProfiles.filter((x) => x !== p);
    for (const t of draft.includeTargets) {
      t.allowedPasskeyProfiles = (t.allowedPasskeyProfiles || []).filter((x) => x !== p.id);
      if (!t.allowedPasskeyProfiles.length) t.allowedPasskeyProfiles = [draft.passkeyProfiles[0].id];
    }
    dirty();
    renderProfiles();
    renderTargets();
  });
  return el;
}

// --- model names ---

const SOURCES = { mds: "FIDO Metadata Service", wellKnown: "Well-known provider" };

function modelLabel(a) {
  const m = modelOf[a];
  if (!m) return "Looking up the model…";
  return m.model || "Unknown model";
}

// sourceLabel says where a name came from, after the AAGUID.
function sourceLabel(a) {
  const source = modelOf[a] && SOURCES[modelOf[a].source];
  return source ? "· " + source : "";
}

// lookupModels asks the server for the names of the AAGUIDs it was not yet
// asked about (one request per MAX_LOOKUP), then relabels every list.
async function lookupModels(aaguids) {
  const todo = [...new Set(aaguids)].filter((a) => !modelOf[a]);
  for (let i = 0; i < todo.length; i += MAX_LOOKUP) {
    const chunk = todo.slice(i, i + MAX_LOOKUP);
    let found = [];
    try {
      found = (await get(path + "/models?" + chunk.map((a) => "aaGuid=" + encodeURIComponent(a)).join("&"))).value || [];
    } catch {
      // Names are a convenience: without them each entry still shows its AAGUID.
    }
    for (const a of chunk) modelOf[a] = { model: "", source: "" };
    for (const m of found) modelOf[m.aaGuid] = m;
  }
  for (const li of $$(".aaguid-list li[data-aaguid]")) {
    $(".cell-main", li).textContent = modelLabel(li.dataset.aaguid);
    $(".model-source", li).textContent = sourceLabel(li.dataset.aaguid);
  }
}

const allAAGUIDs = (p) => p.passkeyProfiles.flatMap((x) => (x.keyRestrictions && x.keyRestrictions.aaGuids) || []);

function renderAAGUIDs(kr, list) {
  if (!kr.aaGuids.length) {
    list.replaceChildren(h("li", { class: "empty muted" }, "No AAGUIDs yet. Add one below or quick-add a provider."));
    return;
  }
  list.replaceChildren(...kr.aaGuids.map((a) => h("li", { dataset: { aaguid: a } },
    h("div", { class: "grow" }, h("div", { class: "cell-main" }, modelLabel(a)),
      h("div", { class: "cell-sub" }, h("span", { class: "mono" }, a), " ", h("span", { class: "small muted model-source" }, sourceLabel(a)))),
    removeButton(`Remove ${a}`, () => {
      kr.aaGuids = kr.aaGuids.filter((x) => x !== a);
      dirty();
      renderAAGUIDs(kr, list);
    }))));
}

$("#policy-self-service").addEventListener("change", (ev) => {
  draft.isSelfServiceRegistrationAllowed = ev.target.checked;
  dirty();
});
$("#profile-add").addEventListener("click", () => {
  if (draft.passkeyProfiles.length >= MAX_PROFILES) return;
  draft.passkeyProfiles.push({
    id: crypto.randomUUID(), name: `Passkey profile ${draft.passkeyProfiles.length + 1}`,
    passkeyTypes: "deviceBound,synced", attestationEnforcement: "disabled",
    keyRestrictions: { isEnforced: false, enforcementType: "block", aaGuids: [] },
  });
  dirty();
  renderProfiles();
  renderTargets();
  const names = $$('#profiles input[id$="-name"]');
  names[names.length - 1].focus();
});

// --- load, save, discard ---

function showPolicy(p) {
  saved = p;
  draft = clone(p);
  draft.includeTargets = draft.includeTargets || [];
  draft.excludeTargets = draft.excludeTargets || [];
  setAsideGroups = [];
  renderTargets();
  renderProfiles();
  lookupModels(allAAGUIDs(draft)); // only those not looked up before
  schedulePreview();
}

// The API names a problem by its JSON path (passkeyProfiles[0].keyRestrictions.aaGuids);
// the page puts it beside the field of that name, under the field's label.
const FIELDS = [
  [/^passkeyProfiles\[(\d+)\]\.name$/, "name-error", "Profile name"],
  [/^passkeyProfiles\[(\d+)\]\.passkeyTypes$/, "types-error", "Passkey types"],
  [/^passkeyProfiles\[(\d+)\]\.keyRestrictions\.aaGuids(\[\d+\])?$/, "aaguid-error", "Key restrictions"],
];

// problemsOf splits "…; 2 problems: path: what; path: what" into its parts;
// a "; " inside one problem's text is kept, as no JSON path follows it.
function problemsOf(msg) {
  const m = msg.match(/\d+ problems?: (.*?)\.?$/);
  if (!m) return [];
  return m[1].split(/; (?=[A-Za-z]+(?:\[\d+\])?(?:\.[A-Za-z]+(?:\[\d+\])?)*: )/).map((part) => {
    const i = part.indexOf(": ");
    return i < 0 ? { path: "", text: part } : { path: part.slice(0, i), text: part.slice(i + 2) };
  });
}

function clearFieldErrors() {
  for (const e of $$("#profiles .field-error")) setAlert(e, "");
  for (const e of $$('#profiles [aria-invalid="true"]')) e.removeAttribute("aria-invalid");
}

// showFieldErrors puts each problem it can place beside its field and
// returns how many it placed; the first placed is scrolled into view.
function showFieldErrors(problems) {
  let placed = 0;
  for (const pr of problems) {
    for (const [re, id, label] of FIELDS) {
      const m = pr.path.match(re);
      const box = m && $(`#p${m[1]}-${id}`);
      if (!box) continue;
      setAlert(box, sentence(`${label}: ${pr.text}`));
      if (!placed) box.scrollIntoView({ block: "nearest" });
      placed++;
      break;
    }
  }
  return placed;
}

// proposal is the form as the PATCH (and the preview) takes it.
function proposal() {
  return {
    state: draft.state,
    isSelfServiceRegistrationAllowed: draft.isSelfServiceRegistrationAllowed,
    includeTargets: draft.includeTargets,
    excludeTargets: draft.excludeTargets,
    passkeyProfiles: draft.passkeyProfiles,
  };
}

onSubmit(form, async () => {
  setAlert(errorBox, "");
  setAlert(saveErrorBox, "");
  setAlert(savedBox, "");
  clearFieldErrors();
  const body = proposal();
  showConflict(null);
  try {
    let res;
    try {
      res = await patchIfMatch(path, body, etag);
    } catch (e) {
      // Nobody gets locked out: name the accounts, and save only when confirmed.
      if (e.code !== "wouldLockOut") throw e;
      const sure = await confirmDialog({ title: "This change locks out privileged accounts", message: e.message,
        confirmLabel: "Save anyway" });
      if (!sure) {
        setAlert(saveErrorBox, e.message);
        return;
      }
      res = await patchIfMatch(path + "?force=true", body, etag);
    }
    etag = res.etag;
    showPolicy(res.data);
    setAlert(savedBox, "Your changes to the Passkey (FIDO2) policy were saved. They apply to the next registration and sign-in.");
  } catch (e) {
    if (e.status === 412 && e.data && e.data.current) {
      showConflict({ current: e.data.current, etag: e.etag });
      return;
    }
    const problems = problemsOf(e.message);
    const placed = showFieldErrors(problems);
    // Each problem placed beside its field is the whole message; the rest
    // stay beside the Save button.
    if (placed && placed === problems.length) return;
    setAlert(saveErrorBox, e.message);
  }
});

// --- a save that lost to someone else's ---

// summary describes a policy in lines a person compares side by side.
function summary(p) {
  const targets = (p.includeTargets || []).map((t) => groupName(t.id) +
    ((p.passkeyProfiles || []).length > 1 ? ` (${(t.allowedPasskeyProfiles || []).map((id) => ((p.passkeyProfiles.find((x) => x.id === id) || {}).name || id)).join(", ")})` : ""));
  const lines = [
    "Passkeys: " + (p.state === "enabled" ? "on" : "off"),
    "Included: " + (targets.join(", ") || "nobody"),
    "Excluded: " + ((p.excludeTargets || []).map((t) => groupName(t.id)).join(", ") || "nobody"),
    "Users may set up their own passkeys: " + (p.isSelfServiceRegistrationAllowed ? "yes" : "no"),
  ];
  for (const x of p.passkeyProfiles || []) {
    const kr = x.keyRestrictions || {};
    lines.push(`Profile “${x.name}”: ${[...types(x)].join(" and ") || "no passkey types"}` +
      `; attestation ${x.attestationEnforcement === "registrationOnly" ? "required" : "not required"}` +
      `; key restrictions ${kr.isEnforced ? `${kr.enforcementType} ${(kr.aaGuids || []).length} AAGUID(s)` : "off"}`);
  }
  return lines;
}

function showConflict(c) {
  conflict = c;
  show(conflictBox, !!c);
  if (!c) return;
  const mine = summary(draft);
  const theirs = summary(c.current);
  const list = (lines, other) => lines.map((l) => h("li", other.includes(l) ? {} : { class: "changed" }, l));
  $("#conflict-mine").replaceChildren(...list(mine, theirs));
  $("#conflict-current").replaceChildren(...list(theirs, mine));
  conflictBox.scrollIntoView({ block: "nearest" });
  $("#conflict-load-current").focus();
}

$("#conflict-load-current").addEventListener("click", () => {
  etag = conflict.etag;
  showPolicy(conflict.current);
  showConflict(null);
  setAlert(savedBox, "This is the policy as it is saved now. Your changes were discarded.");
});
$("#conflict-keep-mine").addEventListener("click", () => {
  // Saving now replaces the version just shown, knowingly.
  etag = conflict.etag;
  saved = conflict.current;
  showConflict(null);
  setAlert(errorBox, "Your changes are still here, not saved. Save them to replace the policy saved by someone else.");
});

$("#policy-discard").addEventListener("click", () => {
  setAlert(errorBox, "");
  setAlert(savedBox, "");
  showConflict(null);
  showPolicy(saved);
});

async function load() {
  const [policy, gs, known, models] = await Promise.all([
    getVersioned(path),
    listAll("/api/v1/groups?$top=999"),
    get(path + "/wellKnownProviders").catch(() => ({ value: [] })),
    get(path + "/modelCatalog").catch(() => ({ value: [] })),
  ]);
  groups = gs;
  providers = known.value || [];
  catalog = models.value || [];
  $("#model-catalog").replaceChildren(...catalog.map((m) => h("option", { value: `${m.model} · ${m.aaGuid}` })));
  etag = policy.etag;
  showPolicy(policy.data);
  show(form, true);
  show($("#impact"), true);
  if (!may("methodPolicies")) readOnly([form], needs("methodPolicies", "changing the passkey (FIDO2) policy"), { noteAfter: $('[role="tablist"]', form) });
}

load().catch((e) => setAlert(errorBox, e.message));

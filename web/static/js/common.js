// Behaviour every page shares: sign-out, copy buttons, and sending people
// whose session ended back to sign in.
import { post, handleUnauthorized } from "./api.js";
import { toast } from "./ui.js";

if (document.body.classList.contains("layout-app")) {
  handleUnauthorized(() => {
    const next = location.pathname + location.search;
    location.assign("/login?next=" + encodeURIComponent(next));
  });
}

for (const b of document.querySelectorAll('[data-action="sign-out"]')) {
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await post("/api/v1/auth/signout");
    } catch (e) {
      if (e.status !== 401) {
        toast(e.message, "error");
        b.disabled = false;
        return;
      }
    }
    location.assign("/login");
  });
}

document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("[data-copy]");
  if (!b) return;
  const el = document.getElementById(b.dataset.copy);
  if (!el) return;
  try {
    await navigator.clipboard.writeText(el.textContent.trim());
    toast("Copied to the clipboard.");
  } catch {
    // No clipboard permission: select the text so Ctrl+C works.
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    toast("Press Ctrl+C (or ⌘C) to copy the selected text.");
  }
});

// The sticky header's height, for html's scroll-padding-top: whatever is
// scrolled into view (a save confirmation, an error) stops below the header,
// at every width (at 390 px the header wraps to two rows).
const header = document.querySelector(".site-header");
if (header) {
  const setHeight = () => document.documentElement.style.setProperty("--header-h", header.offsetHeight + "px");
  setHeight();
  new ResizeObserver(setHeight).observe(header);
}

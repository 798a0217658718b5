// A result card's palette as swatches; on a clustering method's card, clicking one locks or unlocks it.
//
// A Streamlit components-v2 module, like the viewer: no iframe, no build step. The server sends each
// swatch ({hex, label, tip, locked, style}: formatting.swatch_entries, the one home of their look) and
// whether they can be locked. A click sends {hex, lock} as the trigger value "lock": the state the
// swatch offered, not a flip, so a double click or a stale strip can't undo a lock. The strip is drawn
// again on every rerun, as the server has it. One tab stop per strip; the arrow keys move between
// swatches, and focus stays on its swatch when the strip is drawn again, or drawn anew: a lock
// recomputes the card, whose new strip would otherwise leave keyboard focus on the page's body.

const KEYS = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
// The swatch last clicked (or pressed), by strip and hex code, and when: a strip drawn anew soon after
// takes focus back to it. The module is loaded once per page, so this outlives a card's strip.
const RETURN_FOCUS_MS = 30000;
let lastPressed = null;

export default function renderSwatches({ data, parentElement, setTriggerValue }) {
  let strip = parentElement.querySelector(".quant-swatches");
  if (!strip) {
    strip = document.createElement("div");
    strip.className = "quant-swatches";
    strip.addEventListener("keydown", moveFocus);
    parentElement.appendChild(strip);
  }
  strip.style.cssText = data.strip;
  const inside = parentElement.getRootNode().activeElement?.dataset?.hex;
  if (inside && lastPressed?.strip === data.name) lastPressed = null; // focus never left: nothing to return
  const focused = inside ?? focusToReturn(data.name);
  const swatches = data.swatches.map((entry) => swatch(entry, data, setTriggerValue));
  strip.replaceChildren(...swatches);
  if (data.lockable && swatches.length) {
    const current = swatches.find((s) => s.dataset.hex === focused) || swatches[0];
    current.tabIndex = 0;
    if (focused) current.focus({ preventScroll: true }); // the page stays where the user scrolled it
  }
}

// The hex code to focus in strip `name` if its last press was recent and focus has since fallen to the
// page's body (nothing else took it), else undefined.
function focusToReturn(name) {
  const recent = lastPressed && lastPressed.strip === name && Date.now() - lastPressed.at < RETURN_FOCUS_MS;
  if (!recent || document.activeElement !== document.body) return undefined;
  const hex = lastPressed.hex;
  lastPressed = null; // once: a later redraw leaves focus where the user put it
  return hex;
}

function swatch({ hex, label, tip, locked, style }, { lockable, name }, setTriggerValue) {
  const node = document.createElement(lockable ? "button" : "span");
  node.className = "swatch";
  node.style.cssText = style;
  node.dataset.hex = hex;
  node.setAttribute("aria-label", label);
  node.title = lockable ? `${tip} · click to ${locked ? "unlock" : "lock"}` : tip;
  if (lockable) {
    node.type = "button";
    node.tabIndex = -1;
    node.setAttribute("aria-pressed", String(locked));
    node.addEventListener("click", () => {
      lastPressed = { strip: name, hex, at: Date.now() };
      setTriggerValue("lock", { hex, lock: !locked });
    });
  } else {
    node.setAttribute("role", "img");
  }
  return node;
}

function moveFocus(event) {
  const buttons = [...event.currentTarget.querySelectorAll("button")];
  const at = buttons.indexOf(event.target);
  if (at < 0) return;
  let next = at + (KEYS[event.key] ?? 0);
  if (event.key === "Home") next = 0;
  if (event.key === "End") next = buttons.length - 1;
  if (next === at || next < 0 || next >= buttons.length) return;
  event.preventDefault();
  buttons[at].tabIndex = -1;
  buttons[next].tabIndex = 0;
  buttons[next].focus();
}

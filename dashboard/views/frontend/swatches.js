// A result card's palette as swatches; on a clustering method's card, clicking one locks or unlocks it.
//
// A Streamlit components-v2 module, like the viewer: no iframe, no build step. The server sends the
// swatches ({hex, tip, locked}) and whether they can be locked; a click sends the swatch's hex code
// as the trigger value "toggle", which the server's callback applies to the locked colors. The strip
// is drawn again on every rerun, so a lock shows as the server has it, never ahead of it.

export default function renderSwatches({ data, parentElement, setTriggerValue }) {
  let strip = parentElement.querySelector(".quant-swatches");
  if (!strip) {
    strip = document.createElement("div");
    strip.className = "quant-swatches";
    parentElement.appendChild(strip);
  }
  strip.replaceChildren(...data.swatches.map((swatch) => button(swatch, data, setTriggerValue)));
}

function button({ hex, tip, locked }, { lockable, ring }, setTriggerValue) {
  const swatch = document.createElement(lockable ? "button" : "span");
  swatch.className = locked ? "swatch locked" : "swatch";
  swatch.style.background = hex;
  if (locked) swatch.style.cssText += ring; // the page's one locked ring (formatting.LOCKED_RING)
  swatch.setAttribute("aria-label", locked ? `${hex} locked` : hex);
  swatch.title = lockable ? `${tip} · click to ${locked ? "unlock" : "lock"}` : tip;
  if (lockable) {
    swatch.type = "button";
    swatch.setAttribute("aria-pressed", String(locked));
    swatch.addEventListener("click", () => setTriggerValue("toggle", hex));
  }
  return swatch;
}

// quant's comparison viewer: panels that zoom and pan together, a split wipe, and ΔE maps.
//
// A Streamlit components-v2 module (no iframe, no build step, nothing from a CDN). Streamlit calls
// the default export on every rerun with the server's data; the viewer it builds on the first call
// lives on, so zoom and pan survive reruns. Every panel shares one view ({x, y} = the image pixel
// at the panels' top-left corner, zoom = screen pixels per image pixel): zooming or panning any
// panel redraws them all. Panels draw from previews; when the view needs more pixels than a
// preview has, the viewer asks the server (state value "request") for a crop of the visible
// region at the needed scale, and draws it over the preview when it arrives.

const MAX_ZOOM = 8;
const MIN_PANEL_WIDTH = 420; // a panel narrower than this shows too little to compare
const MARGIN = 0.25; // a crop reaches this fraction of the view beyond each edge, so small pans need no new one
const REQUEST_DELAY_MS = 120; // one request when a wheel or a drag settles, not one per event
const ZOOM_STEPS = [["1:1", 1], ["2×", 2], ["4×", 4], ["8×", 8]];

const viewers = new WeakMap(); // a mount point → its viewer
const previews = new Map(); // a preview's id → its decoded image (null while decoding), oldest first
const KEPT_PREVIEWS = 12; // beyond this, the oldest previews not on screen are let go (the server sends them again)

export default function renderViewer({ data, parentElement, setStateValue }) {
  let viewer = viewers.get(parentElement);
  if (!viewer) {
    viewer = new Viewer(parentElement);
    viewers.set(parentElement, viewer);
  }
  viewer.send = setStateValue;
  viewer.update(data);
}

function element(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function decode(src) {
  const image = new Image();
  image.src = src;
  return image.decode().then(() => image);
}

class Viewer {
  constructor(parent) {
    this.root = element("div", "viewer", parent);
    this.toolbar = element("div", "toolbar", this.root);
    this.grid = element("div", "grid", this.root);
    this.splitBar = element("div", "split-bar", this.root);
    this.legend = element("div", "legend", this.root);
    this.view = { x: 0, y: 0, zoom: 1, fit: true };
    this.split = 0.5;
    this.panels = [];
    this.crop = null; // {geometry, images, key}: the latest full-resolution crop
    this.lastRequest = null;
    this.buildToolbar();
    this.buildSplitBar();
    new ResizeObserver(() => this.layout()).observe(this.root);
  }

  // ---- data from the server -------------------------------------------------------------------

  update(data) {
    const image = data.image;
    if (!this.image || this.image.id !== image.id) {
      this.image = image;
      this.view.fit = true;
      this.crop = null;
      this.lastRequest = null;
    }
    this.data = data;
    this.root.dataset.mode = data.mode;
    const signature = JSON.stringify([data.mode, data.panels.map((p) => [p.id, p.label])]);
    if (signature !== this.signature) {
      this.signature = signature;
      this.buildPanels();
    }
    this.buildLegend(data.legend);
    this.loadPreviews(data.panels);
    this.loadCrop(data.crop);
    this.layout();
  }

  loadPreviews(panels) {
    for (const panel of panels) {
      const preview = panel.preview;
      if (preview.src && !previews.has(preview.id)) {
        previews.set(preview.id, null);
        decode(preview.src).then((image) => {
          previews.set(preview.id, image);
          this.drawAll();
        }).catch(() => previews.delete(preview.id)); // asked for again with the next request
      }
    }
    const shown = new Set(panels.map((p) => p.preview.id));
    for (const id of previews.keys()) {
      if (previews.size <= KEPT_PREVIEWS) break;
      if (!shown.has(id)) previews.delete(id);
    }
    const missing = panels.some((p) => !p.preview.src && !previews.has(p.preview.id));
    if (missing) this.requestCrop(true); // a preview the server thinks this page has: ask again
  }

  loadCrop(crop) {
    if (!crop) return;
    const key = JSON.stringify([crop.geometry, crop.panels]);
    if (this.crop && this.crop.key === key) return;
    if (this.pendingCrop === key) return;
    this.pendingCrop = key;
    Promise.all(crop.sources.map(decode)).then((images) => {
      if (this.pendingCrop !== key) return; // a newer crop arrived meanwhile
      this.crop = { geometry: crop.geometry, panels: crop.panels, images, key };
      this.drawAll();
    }).catch(() => {
      if (this.pendingCrop === key) this.pendingCrop = null; // the previews stay; the next request tries again
    });
  }

  // ---- layout --------------------------------------------------------------------------------

  buildToolbar() {
    const zoomOut = element("button", "", this.toolbar, "−");
    zoomOut.title = "Zoom out";
    zoomOut.onclick = () => this.zoomBy(1 / 2);
    const zoomIn = element("button", "", this.toolbar, "+");
    zoomIn.title = "Zoom in";
    zoomIn.onclick = () => this.zoomBy(2);
    const fit = element("button", "", this.toolbar, "Fit");
    fit.title = "Fit the whole image";
    fit.onclick = () => this.fitView();
    for (const [label, zoom] of ZOOM_STEPS) {
      const button = element("button", "", this.toolbar, label);
      button.title = zoom === 1 ? "Actual pixels: one image pixel per screen pixel" : `Zoom to ${label}`;
      button.onclick = () => this.zoomTo(zoom);
    }
    this.readout = element("span", "readout", this.toolbar);
    this.position = element("span", "position", this.toolbar);
    element("span", "hint", this.toolbar, "Scroll to zoom, drag to pan, double-click for 1:1 (again to fit).");
  }

  buildSplitBar() {
    element("span", "", this.splitBar, "Wipe");
    this.splitInput = element("input", "", this.splitBar);
    Object.assign(this.splitInput, { type: "range", min: 0, max: 1000, value: 500 });
    this.splitInput.setAttribute("aria-label", "Split position");
    this.splitInput.oninput = () => {
      this.split = this.splitInput.value / 1000;
      this.drawAll();
    };
  }

  buildPanels() {
    this.grid.replaceChildren();
    const split = this.data.mode === "split";
    const panels = split ? [this.data.panels] : this.data.panels.map((p) => [p]);
    this.panels = panels.map((sources) => {
      const box = element("figure", "panel", this.grid);
      const caption = element("figcaption", "", box);
      if (split) {
        element("span", "left", caption, `◀ ${sources[0].label}`);
        element("span", "right", caption, `${sources[1].label} ▶`);
      } else {
        element("span", "", caption, sources[0].label);
        if (sources[0].note) element("span", "note", caption, sources[0].note);
      }
      const canvas = element("canvas", "", box);
      canvas.dataset.panel = sources.map((s) => s.id).join("|");
      this.listen(canvas);
      return { sources, canvas };
    });
  }

  buildLegend(legend) {
    this.legend.replaceChildren();
    if (!legend) return;
    element("span", "title", this.legend, legend.title);
    const scale = element("div", "scale", this.legend);
    const bar = element("div", "bar", scale);
    bar.style.background = `linear-gradient(to right, ${legend.stops.join(", ")})`;
    const ticks = element("div", "ticks", scale);
    for (const tick of legend.ticks) element("span", "", ticks, tick);
    if (legend.note) element("span", "note", this.legend, legend.note);
  }

  layout() {
    if (!this.image || !this.panels.length) return;
    const width = this.grid.clientWidth;
    if (!width) return;
    const split = this.data.mode === "split";
    const gap = 12;
    const columns = split ? 1 : Math.max(1, Math.min(this.panels.length, Math.floor((width + gap) / (MIN_PANEL_WIDTH + gap))));
    const panelWidth = Math.floor((width - gap * (columns - 1)) / columns);
    const tallest = Math.max(240, window.innerHeight * (split ? 0.75 : 0.6));
    const panelHeight = Math.round(Math.min(tallest, (panelWidth * this.image.height) / this.image.width));
    this.grid.style.gridTemplateColumns = `repeat(${columns}, ${panelWidth}px)`;
    const ratio = window.devicePixelRatio || 1;
    for (const { canvas } of this.panels) {
      canvas.style.width = `${panelWidth}px`;
      canvas.style.height = `${panelHeight}px`;
      canvas.width = Math.round(panelWidth * ratio);
      canvas.height = Math.round(panelHeight * ratio);
    }
    this.size = { width: panelWidth, height: panelHeight, ratio };
    if (this.view.fit) this.fitView();
    else this.changed();
  }

  // ---- the shared view -----------------------------------------------------------------------

  fitZoom() {
    const { width, height } = this.size;
    return Math.min(width / this.image.width, height / this.image.height);
  }

  minZoom() {
    return Math.min(this.fitZoom(), 1);
  }

  fitView() {
    if (!this.size) return;
    this.view.fit = true;
    this.setZoom(this.fitZoom(), this.image.width / 2, this.image.height / 2);
  }

  zoomTo(zoom) {
    const { width, height } = this.size;
    const v = this.view;
    this.setZoom(zoom, v.x + width / 2 / v.zoom, v.y + height / 2 / v.zoom);
  }

  zoomBy(factor) {
    this.zoomTo(this.view.zoom * factor);
  }

  // Zoom to `zoom`, keeping the image point (cx, cy) at the panels' center (or at a screen point).
  setZoom(zoom, cx, cy, screenX, screenY) {
    const { width, height } = this.size;
    const v = this.view;
    v.zoom = Math.min(MAX_ZOOM, Math.max(this.minZoom(), zoom));
    v.fit = Math.abs(v.zoom - this.fitZoom()) < 1e-9;
    v.x = cx - (screenX ?? width / 2) / v.zoom;
    v.y = cy - (screenY ?? height / 2) / v.zoom;
    this.changed();
  }

  panBy(dx, dy) {
    this.view.x -= dx / this.view.zoom;
    this.view.y -= dy / this.view.zoom;
    this.view.fit = false;
    this.changed();
  }

  // Keep the image in view (centered along an axis it doesn't fill), and at 1:1 and closer align
  // image pixels with device pixels, so each one is drawn whole and exact.
  clampView() {
    const v = this.view;
    const { width, height, ratio } = this.size;
    const spanX = width / v.zoom;
    const spanY = height / v.zoom;
    v.x = spanX >= this.image.width ? (this.image.width - spanX) / 2 : Math.min(Math.max(v.x, 0), this.image.width - spanX);
    v.y = spanY >= this.image.height ? (this.image.height - spanY) / 2 : Math.min(Math.max(v.y, 0), this.image.height - spanY);
    if (v.zoom >= 1) {
      const device = v.zoom * ratio;
      v.x = Math.round(v.x * device) / device;
      v.y = Math.round(v.y * device) / device;
    }
  }

  changed() {
    this.clampView();
    this.readout.textContent = `${Math.round(this.view.zoom * 100)} %`;
    this.root.dataset.zoom = this.view.zoom.toFixed(4);
    this.root.classList.toggle("zoomed", !this.view.fit); // only then does a touch drag pan instead of scroll
    this.drawAll();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.requestCrop(false), REQUEST_DELAY_MS);
  }

  // ---- asking the server for pixels ----------------------------------------------------------

  neededScale() {
    return Math.min(1, this.view.zoom * this.size.ratio);
  }

  previewScale() {
    return Math.min(...this.data.panels.map((p) => p.preview.width / this.image.width));
  }

  visible() {
    const { width, height } = this.size;
    const v = this.view;
    return { x: v.x, y: v.y, w: width / v.zoom, h: height / v.zoom };
  }

  cropCovers() {
    if (!this.crop || this.crop.panels.join() !== this.data.panels.map((p) => p.id).join()) return false;
    const g = this.crop.geometry;
    const r = this.visible();
    const inside = g.x0 <= Math.max(0, Math.floor(r.x)) && g.y0 <= Math.max(0, Math.floor(r.y))
      && g.x1 >= Math.min(this.image.width, Math.ceil(r.x + r.w))
      && g.y1 >= Math.min(this.image.height, Math.ceil(r.y + r.h));
    return inside && g.width / (g.x1 - g.x0) >= this.neededScale() * 0.99;
  }

  requestCrop(force) {
    if (!this.size || !this.send) return;
    const wantsCrop = this.neededScale() > this.previewScale() * 1.01 && !this.cropCovers();
    if (!wantsCrop && !force) return;
    const r = this.visible();
    const request = wantsCrop
      ? { x: r.x - r.w * MARGIN, y: r.y - r.h * MARGIN, w: r.w * (1 + 2 * MARGIN), h: r.h * (1 + 2 * MARGIN), scale: this.neededScale() }
      : (this.lastRequest?.crop ?? null);
    const have = [...previews.keys()].filter((id) => previews.get(id));
    const message = { crop: request, have, image: this.image.id };
    const text = JSON.stringify(message);
    if (text === this.lastText) return; // the server already answered this one (perhaps cut down)
    this.lastText = text;
    this.lastRequest = message;
    this.send("request", message);
  }

  // ---- drawing -------------------------------------------------------------------------------

  drawAll() {
    if (!this.size) return;
    for (const panel of this.panels) this.draw(panel);
  }

  draw({ sources, canvas }) {
    const context = canvas.getContext("2d");
    const v = this.view;
    const { ratio } = this.size;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, canvas.width, canvas.height);
    const device = v.zoom * ratio;
    const splitAt = Math.round(canvas.width * this.split);
    let fromCrop = false;
    const covered = this.cropCovers();
    sources.forEach((source, index) => {
      context.save();
      if (sources.length === 2) {
        context.beginPath();
        if (index === 0) context.rect(0, 0, splitAt, canvas.height);
        else context.rect(splitAt, 0, canvas.width - splitAt, canvas.height);
        context.clip();
      }
      // Image coordinates from here on; nearest neighbour once an image pixel covers a device pixel.
      context.setTransform(device, 0, 0, device, -v.x * device, -v.y * device);
      context.imageSmoothingEnabled = device < 1;
      const preview = previews.get(source.preview.id);
      if (preview) context.drawImage(preview, 0, 0, this.image.width, this.image.height);
      const at = this.crop ? this.crop.panels.indexOf(source.id) : -1;
      if (at >= 0 && this.crop.geometry.width / (this.crop.geometry.x1 - this.crop.geometry.x0) > this.previewScale()) {
        const g = this.crop.geometry;
        context.drawImage(this.crop.images[at], g.x0, g.y0, g.x1 - g.x0, g.y1 - g.y0);
        fromCrop = true;
      }
      context.restore();
    });
    if (sources.length === 2) {
      context.fillStyle = "rgba(255,255,255,0.9)";
      context.fillRect(splitAt - ratio, 0, 2 * ratio, canvas.height);
    }
    Object.assign(canvas.dataset, {
      zoom: v.zoom.toFixed(4),
      x: v.x.toFixed(3),
      y: v.y.toFixed(3),
      // "full": every pixel on this canvas comes from the full-resolution crop; "partial": some do.
      source: fromCrop ? (covered ? "full" : "partial") : "preview",
      crop: fromCrop ? JSON.stringify(this.crop.geometry) : "",
    });
  }

  // ---- input ---------------------------------------------------------------------------------

  imagePoint(canvas, event) {
    const box = canvas.getBoundingClientRect();
    const sx = event.clientX - box.left;
    const sy = event.clientY - box.top;
    return { sx, sy, x: this.view.x + sx / this.view.zoom, y: this.view.y + sy / this.view.zoom };
  }

  listen(canvas) {
    canvas.addEventListener("wheel", (event) => {
      if (event.deltaY > 0 && this.view.zoom <= this.minZoom() + 1e-9) return; // zoomed out already: scroll the page
      event.preventDefault();
      const p = this.imagePoint(canvas, event);
      this.setZoom(this.view.zoom * Math.pow(2, -event.deltaY / 300), p.x, p.y, p.sx, p.sy);
    }, { passive: false });
    canvas.addEventListener("dblclick", (event) => {
      const p = this.imagePoint(canvas, event);
      // 1:1 from any other zoom (a fit above 100 % too), and back to the fit from 1:1.
      if (Math.abs(this.view.zoom - 1) > 1e-9) this.setZoom(1, p.x, p.y, p.sx, p.sy);
      else this.fitView();
    });
    let drag = null;
    canvas.addEventListener("pointerdown", (event) => {
      const box = canvas.getBoundingClientRect();
      const onDivider = this.data.mode === "split" && Math.abs(event.clientX - box.left - box.width * this.split) < 10;
      drag = { x: event.clientX, y: event.clientY, divider: onDivider };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      const p = this.imagePoint(canvas, event);
      this.position.textContent = `x ${Math.floor(p.x)}, y ${Math.floor(p.y)}`;
      if (!drag) return;
      if (drag.divider) {
        const box = canvas.getBoundingClientRect();
        this.split = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
        this.splitInput.value = Math.round(this.split * 1000);
        this.drawAll();
      } else {
        this.panBy(event.clientX - drag.x, event.clientY - drag.y);
      }
      drag.x = event.clientX;
      drag.y = event.clientY;
    });
    const end = () => { drag = null; };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }
}

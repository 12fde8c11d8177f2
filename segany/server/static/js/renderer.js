// The editor's stage: stacked canvases at the image's own resolution (image, everything, objects, current
// mask, prompts), scaled together by CSS. Each layer is redrawn only when what it shows changes, so a hover
// repaints one canvas.

import { packColour, paintMask, paletteColour } from './mask_paint.js';

const LAYERS = ['image', 'everything', 'objects', 'mask', 'overlay'];
const CURRENT_FILL = packColour(30, 144, 255, 120);
const CURRENT_EDGE = packColour(255, 255, 255, 255);
const HIGHLIGHT_FILL = packColour(255, 215, 0, 110);

export class Renderer {
  constructor(stage) {
    this.stage = stage;
    this.canvases = {};
    for (const name of LAYERS) {
      const canvas = document.createElement('canvas');
      canvas.className = `layer layer-${name}`;
      canvas.dataset.layer = name;
      stage.appendChild(canvas);
      this.canvases[name] = canvas;
    }
    this.contexts = Object.fromEntries(
      LAYERS.map((name) => [name, this.canvases[name].getContext('2d', { willReadFrequently: false })]),
    );
    this.width = 0;
    this.height = 0;
    this.maskImage = null; // reused ImageData of the current-mask layer
    this.maskPixels = null; // its Uint32 view (0xAABBGGRR)
    this.maskRect = null;
  }

  setImage(image) {
    this.width = image.naturalWidth;
    this.height = image.naturalHeight;
    for (const canvas of Object.values(this.canvases)) {
      canvas.width = this.width;
      canvas.height = this.height;
    }
    this.contexts.image.drawImage(image, 0, 0);
    this.maskImage = new ImageData(this.width, this.height);
    this.maskPixels = new Uint32Array(this.maskImage.data.buffer);
    this.maskRect = null; // bounding box of what maskImage holds (exclusive ends), null when empty
    this.fit();
  }

  // Scales the stage to the largest size that fits its container, keeping the aspect ratio.
  fit() {
    const box = this.stage.parentElement.getBoundingClientRect();
    if (!this.width || !box.width || !box.height) return;
    const scale = Math.min(box.width / this.width, box.height / this.height);
    this.stage.style.width = `${Math.floor(this.width * scale)}px`;
    this.stage.style.height = `${Math.floor(this.height * scale)}px`;
  }

  // Client (CSS pixel) position -> original-image pixel coordinates (x, y), floats.
  toImage(clientX, clientY) {
    const rect = this.canvases.overlay.getBoundingClientRect();
    return [(clientX - rect.left) * (this.width / rect.width), (clientY - rect.top) * (this.height / rect.height)];
  }

  // Image pixels per CSS pixel, so markers keep their on-screen size.
  get pixelScale() {
    const rect = this.canvases.overlay.getBoundingClientRect();
    return rect.width ? this.width / rect.width : 1;
  }

  // Hover calls this on every mask: only the rectangle covering the previous and the new mask is cleared
  // and sent to the canvas (putImageData's dirty rectangle), not the whole image.
  drawMask(mask, highlight = false) {
    const pixels = this.maskPixels;
    const old = this.maskRect;
    if (old) {
      for (let y = old.y0; y < old.y1; y++) pixels.fill(0, y * this.width + old.x0, y * this.width + old.x1);
    }
    const rect = mask ? paintMask(pixels, mask, highlight ? HIGHLIGHT_FILL : CURRENT_FILL, CURRENT_EDGE) : null;
    this.maskRect = rect;
    const dirty = old && rect
      ? { x0: Math.min(old.x0, rect.x0), y0: Math.min(old.y0, rect.y0),
        x1: Math.max(old.x1, rect.x1), y1: Math.max(old.y1, rect.y1) }
      : (old ?? rect);
    if (dirty) {
      this.contexts.mask.putImageData(this.maskImage, 0, 0, dirty.x0, dirty.y0,
        dirty.x1 - dirty.x0, dirty.y1 - dirty.y0);
    }
  }

  clearMask() {
    this.contexts.mask.clearRect(0, 0, this.width, this.height);
  }

  // objects: [{id, colourIndex, mask, hidden}]; the selected one is drawn with a white edge.
  drawObjects(objects, selectedId) {
    const image = new ImageData(this.width, this.height);
    const pixels = new Uint32Array(image.data.buffer);
    for (const object of objects) {
      if (object.hidden) continue;
      const selected = object.id === selectedId;
      const fill = paletteColour(object.colourIndex, selected ? 170 : 120);
      const edge = selected ? CURRENT_EDGE : paletteColour(object.colourIndex, 255);
      paintMask(pixels, object.mask, fill, edge);
    }
    this.contexts.objects.putImageData(image, 0, 0);
  }

  drawEverything(layer) {
    const context = this.contexts.everything;
    if (layer) context.putImageData(layer.image, 0, 0);
    else context.clearRect(0, 0, this.width, this.height);
  }

  setEverythingVisible(visible) {
    this.canvases.everything.hidden = !visible;
  }

  // prompt: {points, labels, box} | null; dragBox: XYXY being drawn | null
  drawOverlay(prompt, dragBox) {
    const context = this.contexts.overlay;
    context.clearRect(0, 0, this.width, this.height);
    const unit = this.pixelScale;
    context.lineWidth = 2 * unit;
    if (prompt?.box) this.strokeBox(context, prompt.box, '#ffd400', []);
    if (dragBox) this.strokeBox(context, dragBox, '#ffffff', [6 * unit, 4 * unit]);
    (prompt?.points ?? []).forEach(([x, y], i) => {
      context.beginPath();
      context.arc(x, y, 6 * unit, 0, 2 * Math.PI);
      context.fillStyle = prompt.labels[i] === 1 ? '#22c55e' : '#ef4444';
      context.fill();
      context.strokeStyle = '#ffffff';
      context.stroke();
    });
  }

  strokeBox(context, [x0, y0, x1, y1], colour, dash) {
    context.setLineDash(dash);
    context.strokeStyle = colour;
    context.strokeRect(x0, y0, x1 - x0, y1 - y0);
    context.setLineDash([]);
  }
}

// Brush and eraser: paint discs of `radius` image pixels into a mask ({width, height, data}, row-major,
// 1 = foreground) along the pointer's path, so the annotator fixes the pixels the model got wrong.

export function copyMask(mask) {
  return { width: mask.width, height: mask.height, data: new Uint8Array(mask.data) };
}

export function emptyMask(width, height) {
  return { width, height, data: new Uint8Array(width * height) };
}

// One disc centred on (cx, cy) in image pixels; value 1 (brush) or 0 (eraser). Returns pixels changed.
export function paintDisc(mask, cx, cy, radius, value) {
  const { width, height, data } = mask;
  const r2 = radius * radius;
  let changed = 0;
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(height - 1, Math.ceil(cy + radius));
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(width - 1, Math.ceil(cx + radius));
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy > r2) continue;
      const i = y * width + x;
      if (data[i] !== value) {
        data[i] = value;
        changed += 1;
      }
    }
  }
  return changed;
}

// Discs every radius/2 pixels from (x0, y0) to (x1, y1): a continuous stroke however fast the pointer moved.
export function paintSegment(mask, x0, y0, x1, y1, radius, value) {
  const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / Math.max(radius / 2, 0.5)));
  let changed = 0;
  for (let k = 0; k <= steps; k++) {
    const t = k / steps;
    changed += paintDisc(mask, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, value);
  }
  return changed;
}

// Pointer strokes on the stage while a paint tool is active. handlers: {active() -> 'brush' | 'eraser' | null,
// radius() -> image pixels, begin(tool) -> mask | null, paint(mask), end(tool, changedPixels), cursor(x, y)}
export class BrushInput {
  constructor(target, renderer, handlers) {
    this.renderer = renderer;
    this.handlers = handlers;
    this.stroke = null; // {tool, mask, x, y, changed}
    target.addEventListener('mousedown', (event) => this.down(event));
    target.addEventListener('mousemove', (event) => {
      if (this.handlers.active()) this.handlers.cursor(...this.renderer.toImage(event.clientX, event.clientY));
    });
    window.addEventListener('mousemove', (event) => this.move(event));
    window.addEventListener('mouseup', () => this.up());
  }

  down(event) {
    const tool = this.handlers.active();
    if (!tool || event.button !== 0) return;
    const mask = this.handlers.begin(tool);
    if (!mask) return;
    const [x, y] = this.renderer.toImage(event.clientX, event.clientY);
    const changed = paintDisc(mask, x, y, this.handlers.radius(), tool === 'brush' ? 1 : 0);
    this.stroke = { tool, mask, x, y, changed };
    this.handlers.paint(mask);
  }

  move(event) {
    if (!this.stroke) return;
    const [x, y] = this.renderer.toImage(event.clientX, event.clientY);
    const { mask, tool } = this.stroke;
    this.stroke.changed += paintSegment(mask, this.stroke.x, this.stroke.y, x, y, this.handlers.radius(),
      tool === 'brush' ? 1 : 0);
    this.stroke.x = x;
    this.stroke.y = y;
    this.handlers.paint(mask);
  }

  up() {
    if (!this.stroke) return;
    const { tool, changed } = this.stroke;
    this.stroke = null;
    this.handlers.end(tool, changed);
  }
}

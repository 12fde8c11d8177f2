// Mouse gestures on the stage, in original-image pixels: hover, click (shift- or right-click = negative), and
// drag = box. A press that moves less than DRAG_PX CSS pixels is a click.

const DRAG_PX = 5;

export class StageInput {
  // handlers: {onHover(x, y, eventTime), onLeave(), onClick(x, y, negative, eventTime),
  //            onDrag(boxXYXY), onBox(boxXYXY, eventTime)}
  constructor(target, renderer, handlers) {
    this.renderer = renderer;
    this.handlers = handlers;
    this.press = null; // {x, y, clientX, clientY, negative, dragging}
    target.addEventListener('contextmenu', (event) => event.preventDefault());
    target.addEventListener('mousedown', (event) => this.down(event));
    // Hover follows `pointerrawupdate` where the browser has it (Chromium, secure contexts such as
    // http://127.0.0.1): it is dispatched as the input arrives, while `mousemove` waits for the next
    // animation frame (~13 ms later on average in headless Chromium, measured). Elsewhere: mousemove.
    const hoverEvent = 'onpointerrawupdate' in window ? 'pointerrawupdate' : 'mousemove';
    this.hoverEvent = hoverEvent;
    target.addEventListener(hoverEvent, (event) => {
      if (!this.press && !event.buttons) this.handlers.onHover(...this.at(event), event.timeStamp);
    });
    target.addEventListener('mouseleave', () => {
      if (!this.press) this.handlers.onLeave();
    });
    window.addEventListener('mousemove', (event) => this.drag(event));
    window.addEventListener('mouseup', (event) => this.up(event));
  }

  at(event) {
    return this.renderer.toImage(event.clientX, event.clientY);
  }

  down(event) {
    if (event.button !== 0 && event.button !== 2) return;
    event.preventDefault(); // no text selection or focus change: blur the label field ourselves
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    const [x, y] = this.at(event);
    this.press = { x, y, clientX: event.clientX, clientY: event.clientY,
      negative: event.button === 2 || event.shiftKey, dragging: false };
  }

  boxTo(event) {
    const [x, y] = this.at(event);
    const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
    const { width, height } = this.renderer;
    const xs = [clamp(this.press.x, width), clamp(x, width)].sort((a, b) => a - b);
    const ys = [clamp(this.press.y, height), clamp(y, height)].sort((a, b) => a - b);
    return [xs[0], ys[0], xs[1], ys[1]]; // XYXY, original pixels
  }

  drag(event) {
    if (!this.press) return;
    const moved = Math.hypot(event.clientX - this.press.clientX, event.clientY - this.press.clientY);
    if (!this.press.dragging && moved < DRAG_PX) return;
    this.press.dragging = true;
    this.handlers.onDrag(this.boxTo(event));
  }

  up(event) {
    if (!this.press) return;
    const press = this.press;
    const box = press.dragging ? this.boxTo(event) : null;
    this.press = null;
    if (box) this.handlers.onBox(box, event.timeStamp);
    else this.handlers.onClick(press.x, press.y, press.negative, event.timeStamp);
  }
}

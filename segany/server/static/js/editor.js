// The editor: one photo at a time, its action log (undo/redo), the current mask (hover, prompt or picked
// "everything" mask) and the accepted objects. What is drawn is always derived from the action log.

import * as api from './api.js';
import { ActionLog, deriveState } from './actions.js';
import { EverythingLayer } from './everything_layer.js';
import { HoverController } from './hover.js';
import { maskToRle, rleToMask } from './rle.js';
import { StageInput } from './stage_input.js';

const ENCODE_POLL_MS = 40;
const ENCODE_AHEAD = 2; // the next gallery photos encoded in the background

// Everything the editor remembers about one photo while the page is open.
class PhotoSession {
  constructor(image) {
    this.image = image; // {id, name, width, height}
    this.log = new ActionLog();
    this.everything = null; // EverythingLayer
    this.showEverything = false;
    this.nextObjectId = 1;
    this.selectedId = null;
    this.masks = new Map(); // rle -> decoded mask (objects and picked masks)
  }

  decoded(rle) {
    if (!this.masks.has(rle)) this.masks.set(rle, rleToMask(rle));
    return this.masks.get(rle);
  }
}

export class Editor {
  // ui: {renderer, stage, segmenter, gallery, objectsPanel, candidates, labelInput, status, stats, buttons}
  constructor(ui) {
    Object.assign(this, ui);
    this.sessions = new Map();
    this.session = null;
    this.ready = new Map(); // `${mode}|${imageId}` -> Promise resolved when prompts can be decoded
    this.current = null; // {mask, rle, score, scores, index} shown for the current prompt
    this.refreshToken = 0;
    this.hoverIndex = -1;
    this.lastHover = null; // {x, y, mask} of the hover mask drawn last
    this.openedAt = null;
    this.hover = new HoverController(
      (target) => this.whenReady(target.imageId).then(() => {
        target.sentAt = performance.now();
        return this.segmenter.hover(target.imageId, target.x, target.y);
      }),
      (result, target) => this.drawHover(result, target),
      (error) => this.reportError(error),
    );
    this.input = new StageInput(this.renderer.canvases.overlay, this.renderer, {
      onHover: (x, y, t) => this.onHover(x, y, t),
      onLeave: () => this.onLeave(),
      onClick: (x, y, negative, t) => this.onClick(x, y, negative, t),
      onDrag: (box) => this.renderer.drawOverlay(this.prompt(), box),
      onBox: (box, t) => this.push({ type: 'box', box }, t),
    });
  }

  get state() {
    return deriveState(this.session.log.done);
  }

  prompt() {
    if (!this.session) return null;
    const steps = this.state.steps;
    return steps.length ? steps[steps.length - 1] : null;
  }

  async open(image) {
    this.openedAt = performance.now();
    this.hover.cancel();
    if (!this.sessions.has(image.id)) this.sessions.set(image.id, new PhotoSession(image));
    this.session = this.sessions.get(image.id);
    this.gallery.select(image.id);
    this.setStatus(`Opening ${image.name}…`);
    const element = new Image();
    element.src = api.imageFileUrl(image.id);
    this.whenReady(image.id).catch((error) => this.reportError(error));
    for (const next of this.gallery.following(image.id, ENCODE_AHEAD)) {
      api.startEncode(next.id).catch(() => {}); // best effort: only a head start
    }
    await element.decode();
    if (this.session.image.id !== image.id) return;
    this.renderer.setImage(element);
    this.renderer.drawEverything(this.session.everything);
    this.renderer.setEverythingVisible(this.session.showEverything);
    this.everythingPanel.setImage(image.id, this.session.everything !== null);
    this.current = null;
    this.drawObjects();
    await this.refresh();
  }

  // Resolves when `imageId` can be decoded in the current mode: encoded on the server, and for browser
  // decoding its embedding (and the decoder model) loaded in the worker.
  whenReady(imageId) {
    const key = `${this.segmenter.mode}|${imageId}`;
    if (!this.ready.has(key)) {
      const ready = (async () => {
        if (this.isCurrent(imageId)) this.setStatus('Encoding the photo on the server…');
        // The photo the user opened is encoded before any encode-ahead (at normal CPU priority); a photo
        // the mode switch or a prompt waits on is one the user is looking at, too.
        let encoding = await api.startEncode(imageId, 'now');
        while (encoding.state !== 'ready') {
          if (encoding.state === 'failed') throw new Error(`encoding failed: ${encoding.error}`);
          await new Promise((resolve) => setTimeout(resolve, ENCODE_POLL_MS));
          encoding = await api.encodeState(imageId);
        }
        await this.segmenter.prepare(imageId);
        if (this.isCurrent(imageId)) this.setStatus('Ready: hover, click (shift/right: negative), drag a box.');
      })();
      ready.catch(() => this.ready.delete(key));
      this.ready.set(key, ready);
    }
    return this.ready.get(key);
  }

  isCurrent(imageId) {
    return this.session?.image.id === imageId;
  }

  // --- hover -------------------------------------------------------------------------------------------
  hoverAllowed() {
    const state = this.state;
    return state.steps.length === 0 && state.picked === null;
  }

  onHover(x, y, eventTime) {
    if (!this.session || !this.hoverAllowed()) return;
    if (this.session.showEverything && this.session.everything) {
      this.highlightEverything(this.session.everything.maskAt(x, y));
      return;
    }
    this.hover.move(this.session.image.id, x, y, eventTime);
  }

  onLeave() {
    this.hover.cancel();
    if (this.session && this.hoverAllowed()) {
      this.hoverIndex = -1;
      this.renderer.clearMask();
    }
  }

  drawHover(result, target) {
    if (!this.isCurrent(target.imageId) || !this.hoverAllowed()) return;
    const drawStart = performance.now();
    this.renderer.drawMask(result.masks[result.best]);
    this.lastHover = { x: target.x, y: target.y, mask: result.masks[result.best] }; // for tests
    const now = performance.now();
    // Where the time went (ms): waiting for an earlier request to finish, then segmenter.hover's stages
    // (request round trip, decoder, mask), then painting.
    const stages = { wait: (target.sentAt ?? target.eventTime) - target.eventTime, ...(result.stages ?? {}),
      draw: now - drawStart };
    this.stats.hover.push({ seq: target.seq, imageId: target.imageId, decoder: result.decoder,
      graph: result.graph ?? null, latencyMs: now - target.eventTime, decodeMs: result.stages?.decode ?? null,
      stages });
    if (this.openedAt !== null) {
      this.stats.firstHover.push({ imageId: target.imageId, decoder: result.decoder, ms: now - this.openedAt });
      this.openedAt = null;
    }
  }

  highlightEverything(index) {
    if (index === this.hoverIndex) return;
    this.hoverIndex = index;
    const layer = this.session.everything;
    this.renderer.drawMask(index < 0 ? null : this.session.decoded(layer.masks[index]), true);
  }

  // --- prompts and actions -----------------------------------------------------------------------------
  onClick(x, y, negative, eventTime) {
    if (!this.session) return;
    const layer = this.session.everything;
    if (!negative && this.session.showEverything && layer && this.hoverAllowed()) {
      const index = layer.maskAt(x, y);
      if (index >= 0) {
        const { size, counts, predicted_iou: score } = layer.masks[index];
        this.push({ type: 'pick', index, rle: { size, counts }, score: score ?? null }, eventTime);
        return;
      }
    }
    this.push({ type: 'point', x, y, label: negative ? 0 : 1 }, eventTime);
  }

  push(action, eventTime = performance.now()) {
    if (!this.session) return;
    this.hover.cancel();
    this.session.log.push(action);
    this.refresh(eventTime);
  }

  choose(index) {
    if (this.current && index < this.current.scores.length && this.prompt()) {
      this.push({ type: 'choose', index });
    }
  }

  accept() {
    if (!this.current) {
      this.setStatus('Nothing to accept: make a mask first.');
      return;
    }
    const label = this.labelInput.value.trim() || null;
    const rle = this.current.rle ?? maskToRle(this.current.mask);
    const objectId = this.session.nextObjectId++;
    this.session.selectedId = objectId; // the new object is the one a cut-out exports
    this.labelInput.value = '';
    this.labelInput.blur(); // so that the next Ctrl+Z undoes the accept, not the typing
    this.push({ type: 'accept', objectId, label, rle, score: this.current.score });
  }

  undo() {
    this.session?.log.undo();
    this.refresh();
  }

  redo() {
    this.session?.log.redo();
    this.refresh();
  }

  reset() {
    if (this.session && !this.hoverAllowed()) this.push({ type: 'reset' });
  }

  selectObject(objectId) {
    this.session.selectedId = this.session.selectedId === objectId ? null : objectId;
    this.drawObjects();
  }

  setEverything(imageId, result) {
    const session = this.sessions.get(imageId);
    if (!session) return;
    session.everything = new EverythingLayer(result.width, result.height, result.masks);
    session.showEverything = true;
    if (this.session === session) {
      this.renderer.drawEverything(session.everything);
      this.renderer.setEverythingVisible(true);
    }
  }

  toggleEverything(visible) {
    if (!this.session) return;
    this.session.showEverything = visible && this.session.everything !== null;
    this.renderer.setEverythingVisible(this.session.showEverything);
    this.hoverIndex = -1;
    if (this.hoverAllowed()) this.renderer.clearMask();
  }

  // --- derived view ------------------------------------------------------------------------------------
  // Redraws everything the action log determines; the prediction for a new prompt may arrive later.
  async refresh(eventTime = null) {
    if (!this.session) return;
    const session = this.session;
    const token = ++this.refreshToken;
    const state = this.state;
    const step = state.steps.length ? state.steps[state.steps.length - 1] : null;
    this.renderer.drawOverlay(step, null);
    this.drawObjects(state);
    this.updateButtons();
    if (state.picked) {
      const mask = session.decoded(state.picked.rle);
      this.showCurrent({ mask, rle: state.picked.rle, score: state.picked.score, scores: [], index: 0 });
      return;
    }
    if (!step) {
      this.showCurrent(null);
      return;
    }
    try {
      await this.whenReady(session.image.id);
      const previous = state.steps.length > 1 ? state.steps[state.steps.length - 2] : null;
      const result = await this.segmenter.predictStep(session.image.id, step, previous);
      if (token !== this.refreshToken || session !== this.session) return;
      const index = step.choice ?? result.best;
      this.showCurrent({ mask: result.masks[index], rle: result.rles?.[index] ?? null,
        score: result.scores[index], scores: result.scores, index });
      if (eventTime !== null) {
        this.stats.predictions.push({ decoder: result.decoder, graph: result.graph ?? null,
          latencyMs: performance.now() - eventTime });
      }
    } catch (error) {
      if (token === this.refreshToken) this.reportError(error);
    }
  }

  showCurrent(current) {
    this.current = current;
    if (current) this.renderer.drawMask(current.mask);
    else this.renderer.clearMask();
    this.hoverIndex = -1;
    this.candidates.render(current);
  }

  drawObjects(state = this.state) {
    const objects = state.objects.map((object) => ({
      ...object,
      colourIndex: object.id,
      mask: this.session.decoded(object.rle),
    }));
    this.renderer.drawObjects(objects, this.session.selectedId);
    this.objectsPanel.render(objects, this.session.selectedId);
  }

  updateButtons() {
    this.buttons.undo.disabled = !this.session.log.canUndo;
    this.buttons.redo.disabled = !this.session.log.canRedo;
  }

  // What the export buttons send: the visible objects, and the selected one's index among them.
  exportRequest() {
    if (!this.session) return null;
    const visible = this.state.objects.filter((object) => !object.hidden);
    const index = visible.findIndex((object) => object.id === this.session.selectedId);
    return {
      imageId: this.session.image.id,
      objects: visible.map((object) => ({ ...object.rle, label: object.label, score: object.score })),
      index: index >= 0 ? index : null,
    };
  }

  // The hover mask drawn last with its point (image pixels), mask as RLE; for tests.
  lastHoverRle() {
    if (!this.lastHover) return null;
    return { x: this.lastHover.x, y: this.lastHover.y, rle: maskToRle(this.lastHover.mask) };
  }

  // The current mask as RLE (for tests and the benchmark; the page itself does not need it).
  currentRle() {
    if (!this.current) return null;
    return this.current.rle ?? maskToRle(this.current.mask);
  }

  setStatus(text, isError = false) {
    this.status.textContent = text;
    this.status.classList.toggle('error', isError);
  }

  reportError(error) {
    this.stats.errors.push(String(error?.message ?? error));
    this.setStatus(String(error?.message ?? error), true);
    console.error(error);
  }
}

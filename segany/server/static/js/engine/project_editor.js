// The editor inside a project: the project's images (keys n/p or arrows: next/previous), prompts decoded on
// the server (the `segany serve` predict route, behind the engine's login), the image's stored annotations
// (manual, pre-filled, automatic) with keep / fix / delete, a brush and an eraser, and accepts that survive
// retries (one idempotency key per accept) and carry their time and prompt count.
//
// Time per mask: from the first prompt (click, box or brush stroke) after the last finished mask on this image
// to the accept; clicks = prompts of that mask (every prompt is also sent as a `prompt` event).

import * as api from '../api.js';
import { ActionLog, deriveState } from '../actions.js';
import { CandidatesBar } from '../candidates.js';
import { maskToRle } from '../rle.js';
import { Renderer } from '../renderer.js';
import { Segmenter } from '../segmenter.js';
import { StageInput } from '../stage_input.js';
import { AnnotationList } from './annotation_list.js';
import { BrushInput, copyMask, emptyMask } from './brush.js';
import * as client from './client.js';
import { ImageListActions } from './image_list.js';
import { JobsPanel } from './jobs_panel.js';
import { StoredMaskActions } from './stored_masks.js';

const ENCODE_POLL_MS = 50;

export class ProjectEditor {
  // root: the editor view element; user: {id, username, role}; setStatus(text, isError)
  constructor(root, user, setStatus) {
    this.root = root;
    this.user = user;
    this.setStatus = setStatus;
    this.$ = (selector) => root.querySelector(selector);
    this.renderer = new Renderer(this.$('#stage'));
    this.segmenter = new Segmenter(null);
    this.candidates = new CandidatesBar(this.$('#candidates'), (i) => this.choose(i));
    this.list = new AnnotationList(this.$('#annotation-list'), user.role, {
      onSelect: (row) => this.select(row.id),
      onKeep: (row) => this.keep(row),
      onFix: (row) => this.startFix(row),
      onDelete: (row) => this.remove(row),
    });
    this.jobs = new JobsPanel(this.$('#jobs'), () => this.project, () => this.image,
      () => this.loadAnnotations(), (error) => this.report(error));
    this.tool = 'prompt'; // 'prompt' | 'brush' | 'eraser'
    this.radius = 6;
    this.project = null;
    this.images = [];
    this.index = -1;
    this.image = null;
    this.rows = []; // the current image's annotations (server rows)
    this.masks = new Map(); // annotation id -> {version, mask}
    this.selectedId = null;
    this.fixing = null; // {row, mask, strokes, startedAt}
    this.conflict = null; // {message, mine: mask, row}
    this.ready = new Map();
    this.work = new Map(); // image id -> {startedAt, clicks}: the mask being made
    this.saving = 0;
    this.stats = { accepts: [], retries: 0, conflicts: 0 };
    window.seganyEngine = this; // tests and the screenshot script read the editor's state
    this.log = new ActionLog();
    this.current = null;
    this.refreshToken = 0;
    this.input = new StageInput(this.renderer.canvases.overlay, this.renderer, {
      onHover: () => {},
      onLeave: () => this.drawOverlay(),
      onClick: (x, y, negative) => this.tool === 'prompt' && this.push({ type: 'point', x, y, label: negative ? 0 : 1 }),
      onDrag: (box) => this.tool === 'prompt' && this.renderer.drawOverlay(this.step(), box),
      onBox: (box) => this.tool === 'prompt' && this.push({ type: 'box', box }),
    });
    this.brush = new BrushInput(this.renderer.canvases.overlay, this.renderer, {
      active: () => (this.tool === 'prompt' || !this.image ? null : this.tool),
      radius: () => this.radius,
      begin: (tool) => this.paintTarget(tool),
      paint: (mask) => this.renderer.drawMask(mask),
      end: (tool, changed) => this.endStroke(tool, changed),
      cursor: (x, y) => this.drawOverlay([x, y]),
    });
    this.bindControls();
    window.addEventListener('resize', () => this.renderer.fit());
  }

  bindControls() {
    for (const button of this.root.querySelectorAll('[data-tool]')) {
      button.addEventListener('click', () => this.setTool(button.dataset.tool));
    }
    this.$('#radius').addEventListener('input', (event) => { this.radius = Number(event.target.value) || 1; });
    this.$('#accept').addEventListener('click', () => this.acceptOrSave());
    this.$('#reset').addEventListener('click', () => this.reset());
    this.$('#prev-image').addEventListener('click', () => this.go(-1));
    this.$('#next-image').addEventListener('click', () => this.go(1));
    this.$('#conflict-save').addEventListener('click', () => this.saveMineAnyway());
    this.$('#conflict-discard').addEventListener('click', () => this.discardMine());
    this.$('#upload-input').addEventListener('change', (event) => this.upload(event.target));
  }

  // --- project and images ----------------------------------------------------------------------------------
  async openProject(project, imageId = null) {
    this.project = project;
    this.$('#project-name').textContent = project.name;
    for (const [format, link] of Object.entries(this.exportLinks())) link.href = client.exportUrl(project.id, format);
    this.jobs.setVisible(this.user.role === 'admin');
    this.$('#upload').hidden = this.user.role === 'reviewer';
    this.images = await client.images(project.id);
    this.renderImageList();
    if (!this.images.length) {
      this.setStatus('No images in this project yet: upload some.');
      return;
    }
    const index = Math.max(0, this.images.findIndex((image) => image.id === imageId));
    await this.openImage(index);
  }

  exportLinks() {
    return Object.fromEntries([...this.root.querySelectorAll('#export-links a')].map((a) => [a.dataset.format, a]));
  }

  async go(delta) {
    if (!this.images.length) return;
    const next = Math.min(this.images.length - 1, Math.max(0, this.index + delta));
    if (next !== this.index) await this.openImage(next);
  }

  async openImage(index) {
    this.index = index;
    this.image = this.images[index];
    const image = this.image;
    for (const item of this.$('#image-list').children) {
      item.classList.toggle('current', item.dataset.id === String(image.id));
    }
    this.$('#image-position').textContent = `${index + 1} / ${this.images.length}`;
    this.log = new ActionLog();
    this.current = null;
    this.fixing = null;
    this.selectedId = null;
    this.clearConflict();
    this.setStatus(`Opening ${image.file_name}…`);
    const element = new Image();
    element.src = client.imageUrl(this.project.id, image.id);
    this.whenReady(image).catch((error) => this.report(error));
    const following = this.images[index + 1];
    if (following) api.startEncode(following.server_id).catch(() => {}); // a head start only
    await element.decode();
    if (this.image !== image) return;
    this.renderer.setImage(element);
    this.renderer.drawEverything(null);
    this.showCurrent(null);
    await this.loadAnnotations();
    document.body.dataset.imageId = String(image.id);
  }

  whenReady(image) {
    if (!this.ready.has(image.id)) {
      const ready = (async () => {
        let encoding = await api.startEncode(image.server_id);
        while (encoding.state !== 'ready') {
          if (encoding.state === 'failed') throw new Error(`encoding failed: ${encoding.error}`);
          await new Promise((resolve) => setTimeout(resolve, ENCODE_POLL_MS));
          encoding = await api.encodeState(image.server_id);
        }
        if (this.image === image) this.setStatus('Ready: click (shift: remove), drag a box; B brush, E eraser.');
      })();
      ready.catch(() => this.ready.delete(image.id));
      this.ready.set(image.id, ready);
    }
    return this.ready.get(image.id);
  }

  // --- prompts -----------------------------------------------------------------------------------------
  step() {
    const steps = deriveState(this.log.done).steps;
    return steps.length ? steps[steps.length - 1] : null;
  }

  push(action) {
    if (!this.image || this.fixing) return;
    this.log.push(action);
    this.countPrompt({ type: action.type, ...(action.type === 'box' ? { box: action.box } : { x: action.x, y: action.y, label: action.label }) });
    this.refresh();
  }

  countPrompt(payload) {
    const image = this.image;
    const work = this.work.get(image.id) ?? { startedAt: performance.now(), clicks: 0 };
    work.clicks += 1;
    this.work.set(image.id, work);
    client.promptEvent(this.project.id, image.id, payload).catch((error) => this.report(error));
  }

  choose(index) {
    if (this.current && this.step() && index < this.current.scores.length) {
      this.log.push({ type: 'choose', index });
      this.refresh();
    }
  }

  undo() {
    this.log.undo();
    this.refresh();
  }

  redo() {
    this.log.redo();
    this.refresh();
  }

  reset() {
    if (this.fixing) {
      this.fixing = null;
      this.drawAnnotations();
      this.showCurrent(this.current);
      this.setStatus('Fix cancelled.');
      return;
    }
    this.log.push({ type: 'reset' });
    this.refresh();
  }

  async refresh() {
    const image = this.image;
    const step = this.step();
    const token = ++this.refreshToken;
    this.drawOverlay();
    if (!step) {
      this.showCurrent(null);
      return;
    }
    try {
      await this.whenReady(image);
      const steps = deriveState(this.log.done).steps;
      const previous = steps.length > 1 ? steps[steps.length - 2] : null;
      const result = await this.segmenter.predictStep(image.server_id, step, previous);
      if (this.image !== image || token !== this.refreshToken) return;
      const index = step.choice ?? result.best;
      this.showCurrent({ mask: result.masks[index], rle: result.rles?.[index] ?? null,
        score: result.scores[index], scores: result.scores, index });
    } catch (error) {
      this.report(error);
    }
  }

  showCurrent(current) {
    this.current = current;
    if (this.fixing) this.renderer.drawMask(this.fixing.mask);
    else if (current) this.renderer.drawMask(current.mask);
    else this.renderer.clearMask();
    this.candidates.render(current && !current.painted ? current : null);
    this.$('#accept').textContent = this.fixing ? 'Save fix' : 'Accept';
  }

  drawOverlay(cursor = null) {
    if (!this.image) return;
    this.renderer.drawOverlay(this.fixing ? null : this.step(), null);
    if (cursor && this.tool !== 'prompt') {
      const context = this.renderer.contexts.overlay;
      context.beginPath();
      context.arc(cursor[0], cursor[1], this.radius, 0, 2 * Math.PI);
      context.strokeStyle = this.tool === 'brush' ? '#22c55e' : '#ef4444';
      context.lineWidth = 1.5 * this.renderer.pixelScale;
      context.stroke();
    }
  }

  // --- brush and eraser --------------------------------------------------------------------------------
  setTool(tool) {
    this.tool = tool;
    for (const button of this.root.querySelectorAll('[data-tool]')) {
      button.classList.toggle('chosen', button.dataset.tool === tool);
    }
    this.renderer.canvases.overlay.style.cursor = tool === 'prompt' ? 'crosshair' : 'none';
    this.drawOverlay();
  }

  // The mask a stroke paints: the one being fixed, else the current one (copied once: the prediction cache
  // keeps the model's), else a new empty mask (the brush alone can draw a mask).
  paintTarget(tool) {
    if (this.fixing) return this.fixing.mask;
    if (this.current?.painted) return this.current.mask;
    if (this.current) {
      this.current = { ...this.current, mask: copyMask(this.current.mask), rle: null, painted: true };
      this.candidates.render(null);
      return this.current.mask;
    }
    if (tool === 'eraser') return null;
    this.current = { mask: emptyMask(this.renderer.width, this.renderer.height), rle: null, score: null,
      scores: [], index: 0, painted: true };
    return this.current.mask;
  }

  endStroke(tool, changed) {
    if (this.fixing) {
      this.fixing.strokes += 1;
      this.setStatus(`Fixing mask ${this.fixing.row.id}: ${this.fixing.strokes} stroke(s); Enter saves.`);
      return;
    }
    this.countPrompt({ type: tool, changed });
  }

  // --- accept, keep, fix, delete -----------------------------------------------------------------------
  acceptOrSave() {
    if (this.fixing) return this.saveFix();
    return this.accept();
  }

  async accept() {
    if (!this.current || !this.image) {
      this.setStatus('Nothing to accept: make a mask first.');
      return null;
    }
    const image = this.image;
    const work = this.work.get(image.id) ?? { startedAt: performance.now(), clicks: 0 };
    const label = this.$('#label-input').value.trim() || null;
    const body = {
      idempotency_key: crypto.randomUUID(), // one per accept: every retry sends the same
      mask: this.current.rle ?? maskToRle(this.current.mask),
      label,
      predicted_iou: this.current.painted ? null : this.current.score,
      clicks: work.clicks,
      seconds: (performance.now() - work.startedAt) / 1000,
    };
    this.$('#label-input').value = '';
    this.log = new ActionLog();
    this.showCurrent(null);
    this.drawOverlay();
    this.work.delete(image.id);
    this.saving += 1;
    this.setStatus('Saving the mask…');
    try {
      const row = await client.accept(this.project.id, image.id, body, (attempt, error) => {
        this.stats.retries += 1;
        this.setStatus(`Saving the mask: retry ${attempt} (${error.message})…`);
      });
      this.stats.accepts.push({ id: row.id, key: body.idempotency_key, clicks: body.clicks, seconds: body.seconds });
      this.setStatus(`Mask ${row.id} saved (${body.clicks} prompt(s), ${body.seconds.toFixed(1)} s).`);
      if (this.image === image) {
        this.selectedId = row.id;
        await this.loadAnnotations();
      }
      return row;
    } catch (error) {
      this.report(error);
      return null;
    } finally {
      this.saving -= 1;
    }
  }

  report(error) {
    this.setStatus(String(error?.message ?? error), true);
    console.error(error);
  }

  // Masks as uncompressed RLE, for the tests (the page itself does not need these).
  maskRle(id) {
    const known = this.masks.get(id);
    return known ? maskToRle(known.mask) : null;
  }

  fixingRle() {
    return this.fixing ? maskToRle(this.fixing.mask) : null;
  }

  currentRle() {
    return this.current ? this.current.rle ?? maskToRle(this.current.mask) : null;
  }

  // Keys (bound by main.js while this view is shown); false when the key is not the editor's.
  onKey(event) {
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    const selected = this.selectedRow();
    if (ctrl && key.toLowerCase() === 'z') {
      if (event.shiftKey) this.redo();
      else this.undo();
    } else if (key === 'Enter') this.acceptOrSave();
    else if (key === 'Escape') this.reset();
    else if (key === 'ArrowRight' || key === 'n' || key === 'PageDown') this.go(1);
    else if (key === 'ArrowLeft' || key === 'p' || key === 'PageUp') this.go(-1);
    else if (key === 'b') this.setTool('brush');
    else if (key === 'e') this.setTool('eraser');
    else if (key === 'v') this.setTool('prompt');
    else if (key === '[' || key === ']') {
      this.radius = Math.max(1, this.radius + (key === ']' ? 2 : -2));
      this.$('#radius').value = String(this.radius);
    } else if (['1', '2', '3'].includes(key)) this.choose(Number(key) - 1);
    else if (key === 'k' && selected) this.keep(selected);
    else if (key === 'f' && selected) this.startFix(selected);
    else if ((key === 'Delete' || key === 'x') && selected) this.remove(selected);
    else return false;
    return true;
  }
}

// Stored masks (load, draw, keep, fix, delete, the 409 box) and the image list: their own modules.
Object.assign(ProjectEditor.prototype, StoredMaskActions, ImageListActions);

// The review queue (reviewers, admins): a seeded random sample of undecided automatic masks, each shown as a
// crop of its image with the mask; Accept / Reject (keys A / R, arrows move) record the decision, and the
// table below gives precision per predicted-IoU threshold over everything reviewed so far.

import { el } from '../dom.js';
import { rleToMask } from '../rle.js';
import * as client from './client.js';

const MARGIN = 0.25; // context around the mask's box, as a fraction of its size
const CARD_PX = 200;

export class ReviewPage {
  constructor(root, setStatus) {
    this.root = root;
    this.setStatus = setStatus;
    this.project = null;
    this.queue = [];
    this.cursor = 0;
    this.images = new Map();
    root.querySelector('#review-load').addEventListener('click', () => this.load().catch((e) => this.report(e)));
    root.querySelector('#review-thresholds').addEventListener('change', () => this.loadPrecision());
  }

  async open(project) {
    this.project = project;
    this.root.querySelector('#review-project').textContent = project.name;
    const images = await client.images(project.id);
    this.images = new Map(images.map((image) => [image.id, image]));
    await this.load();
  }

  async load() {
    const count = Number(this.root.querySelector('#review-count').value) || 12;
    const seed = Number(this.root.querySelector('#review-seed').value) || 0;
    this.queue = (await client.reviewQueue(this.project.id, count, seed)).map((row) => ({ row, decision: null }));
    this.cursor = 0;
    await this.render();
    await this.loadPrecision();
    this.setStatus(this.queue.length ? `${this.queue.length} automatic mask(s) to review: A accept, R reject.`
      : 'Nothing to review: no undecided automatic masks.');
    document.body.dataset.reviewReady = '1';
  }

  async render() {
    const grid = this.root.querySelector('#review-grid');
    const cards = await Promise.all(this.queue.map((item, i) => this.card(item, i)));
    grid.replaceChildren(...cards);
    this.highlight();
  }

  async card(item, i) {
    const { row } = item;
    const canvas = el('canvas', { width: CARD_PX, height: CARD_PX });
    const image = this.images.get(row.image_id);
    await this.drawCrop(canvas, row, image);
    const stability = row.stability_score === null ? '' : ` · stab. ${row.stability_score.toFixed(2)}`;
    return el('div', { class: 'review-card', dataset: { id: row.id, index: i }, onclick: () => this.move(i - this.cursor) },
      canvas,
      el('div', { class: 'meta' }, `#${row.id} · ${image?.file_name ?? row.image_id}`),
      el('div', { class: 'meta' }, `IoU ${row.predicted_iou?.toFixed(3) ?? '–'}${stability}`),
      el('div', { class: 'row' },
        el('button', { type: 'button', dataset: { action: 'accept' }, onclick: () => this.decide(i, 'keep') }, 'Accept (A)'),
        el('button', { type: 'button', dataset: { action: 'reject' }, onclick: () => this.decide(i, 'reject') }, 'Reject (R)')),
      el('div', { class: 'decision' }, ''));
  }

  async drawCrop(canvas, row, image) {
    const context = canvas.getContext('2d');
    const picture = new Image();
    picture.src = client.imageUrl(this.project.id, row.image_id);
    await picture.decode();
    const [x, y, w, h] = row.bbox;
    const side = Math.max(w, h) * (1 + 2 * MARGIN) + 8;
    const cx = x + w / 2;
    const cy = y + h / 2;
    const sx = cx - side / 2;
    const sy = cy - side / 2;
    context.fillStyle = '#111';
    context.fillRect(0, 0, CARD_PX, CARD_PX);
    context.drawImage(picture, sx, sy, side, side, 0, 0, CARD_PX, CARD_PX);
    // The mask at image resolution on a scratch canvas, drawn with the same crop.
    const mask = rleToMask(client.uncompressedRle(row.mask));
    const scratch = document.createElement('canvas');
    scratch.width = mask.width;
    scratch.height = mask.height;
    const pixels = new ImageData(mask.width, mask.height);
    const words = new Uint32Array(pixels.data.buffer);
    for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) words[i] = 0x8cff901e; // RGBA 30,144,255,140
    scratch.getContext('2d').putImageData(pixels, 0, 0);
    context.drawImage(scratch, sx, sy, side, side, 0, 0, CARD_PX, CARD_PX);
    void image;
  }

  highlight() {
    const cards = this.root.querySelectorAll('.review-card');
    cards.forEach((card, i) => card.classList.toggle('current', i === this.cursor));
    cards[this.cursor]?.scrollIntoView({ block: 'nearest' });
  }

  move(delta) {
    if (!this.queue.length) return;
    this.cursor = Math.min(this.queue.length - 1, Math.max(0, this.cursor + delta));
    this.highlight();
  }

  async decide(i, decision) {
    const item = this.queue[i];
    if (!item || item.decision) return;
    const card = this.root.querySelectorAll('.review-card')[i];
    try {
      item.row = await client.decide(this.project.id, item.row.id, item.row.version, decision);
      item.decision = decision;
      card.classList.add(decision === 'keep' ? 'accepted' : 'rejected');
      card.querySelector('.decision').textContent = decision === 'keep' ? 'accepted' : 'rejected';
    } catch (error) {
      card.classList.add('conflict');
      card.querySelector('.decision').textContent = error.status === 409 ? 'decided by someone else (409)' : error.message;
      this.report(error);
    }
    if (i === this.cursor) this.move(1);
    await this.loadPrecision();
  }

  async loadPrecision() {
    if (!this.project) return;
    const thresholds = this.root.querySelector('#review-thresholds').value;
    const rows = await client.precision(this.project.id, thresholds).catch((error) => { this.report(error); return []; });
    const body = this.root.querySelector('#precision-table tbody');
    body.replaceChildren(...rows.map((row) => el('tr', { dataset: { threshold: row.threshold } },
      el('td', {}, row.threshold.toFixed(2)), el('td', {}, row.reviewed), el('td', {}, row.kept),
      el('td', {}, row.precision === null ? '–' : `${(100 * row.precision).toFixed(1)} %`))));
  }

  report(error) {
    this.setStatus(String(error?.message ?? error), true);
  }

  onKey(event) {
    const key = event.key.toLowerCase();
    if (key === 'a' || key === 'y') this.decide(this.cursor, 'keep');
    else if (key === 'r') this.decide(this.cursor, 'reject');
    else if (event.key === 'ArrowRight' || event.key === 'ArrowDown') this.move(1);
    else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') this.move(-1);
    else return false;
    return true;
  }
}

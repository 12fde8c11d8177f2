// The stored masks of the project editor: load and draw them, select, keep, fix (brush / eraser on a copy,
// then save), delete, and what happens when someone else saved first (409): the box says so, shows their
// version, and keeps our fix so that it can still be saved over theirs or dropped. Mixed into ProjectEditor's
// prototype (the methods use its state: project, rows, masks, fixing, conflict).

import { ActionLog } from '../actions.js';
import { maskToRle, rleToMask } from '../rle.js';
import { copyMask } from './brush.js';
import * as client from './client.js';

export const StoredMaskActions = {
  async loadAnnotations() {
    if (!this.image) return;
    const image = this.image;
    const rows = await client.annotations(this.project.id, image.id);
    if (this.image !== image) return;
    this.rows = rows.filter((row) => row.status !== 'rejected');
    for (const row of this.rows) {
      const known = this.masks.get(row.id);
      if (!known || known.version !== row.version) {
        this.masks.set(row.id, { version: row.version, mask: rleToMask(client.uncompressedRle(row.mask)) });
      }
    }
    if (this.selectedId !== null && !this.rows.some((row) => row.id === this.selectedId)) this.selectedId = null;
    this.drawAnnotations();
  },

  drawAnnotations() {
    const objects = this.rows.map((row) => ({
      id: row.id,
      colourIndex: row.id,
      mask: this.masks.get(row.id).mask,
      hidden: this.fixing?.row.id === row.id,
    }));
    this.renderer.drawObjects(objects, this.selectedId);
    this.list.render(this.rows, this.selectedId, this.fixing?.row.id ?? null);
    const counts = { accepted: 0, proposed: 0 };
    for (const row of this.rows) counts[row.status] += 1;
    this.$('#image-counts').textContent = `${counts.accepted} accepted · ${counts.proposed} proposed`;
  },

  select(id) {
    this.selectedId = this.selectedId === id ? null : id;
    this.drawAnnotations();
  },

  startFix(row) {
    const known = this.masks.get(row.id);
    if (!known) return;
    this.fixing = { row, mask: copyMask(known.mask), strokes: 0, startedAt: performance.now() };
    this.selectedId = row.id;
    this.log = new ActionLog();
    this.current = null;
    if (this.tool === 'prompt') this.setTool('brush');
    this.drawAnnotations();
    this.showCurrent(null);
    this.setStatus(`Fixing mask ${row.id}: paint with B (brush) / E (eraser), Enter saves, Esc cancels.`);
  },

  async saveFix(version = null) {
    const fixing = this.fixing;
    if (!fixing) return null;
    const body = {
      version: version ?? fixing.row.version,
      mask: maskToRle(fixing.mask),
      clicks: fixing.strokes,
      seconds: (performance.now() - fixing.startedAt) / 1000,
    };
    try {
      const row = await client.edit(this.project.id, fixing.row.id, body);
      this.fixing = null;
      this.clearConflict();
      this.setStatus(`Mask ${row.id} fixed and accepted (version ${row.version}).`);
      this.showCurrent(null);
      await this.loadAnnotations();
      return row;
    } catch (error) {
      if (error.status === 409) await this.onConflict(error, fixing.row.id, fixing.mask);
      else this.report(error);
      return null;
    }
  },

  async keep(row) {
    await this.change(row, () => client.decide(this.project.id, row.id, row.version, 'keep'), 'kept');
  },

  async remove(row) {
    await this.change(row, () => client.remove(this.project.id, row.id, row.version), 'deleted');
  },

  async change(row, call, verb) {
    try {
      await call();
      this.setStatus(`Mask ${row.id} ${verb}.`);
      if (this.fixing?.row.id === row.id) this.fixing = null;
      await this.loadAnnotations();
    } catch (error) {
      if (error.status === 409) await this.onConflict(error, row.id, null);
      else this.report(error);
    }
  },

  // Someone else saved this annotation first: say so, show their version, and keep ours (if we painted one)
  // so that it can still be saved over theirs or dropped, never silently lost.
  async onConflict(error, annotationId, mine) {
    this.stats.conflicts += 1;
    await this.loadAnnotations();
    const row = this.rows.find((r) => r.id === annotationId) ?? null;
    this.conflict = { message: error.detail, mine, row };
    const box = this.$('#conflict');
    box.hidden = false;
    this.$('#conflict-text').textContent = `Conflict (409): ${error.detail}` +
      (row ? ` Now: ${row.status}, version ${row.version}.` : ' It is gone (deleted).') +
      (mine ? ' Your fix is kept below.' : '');
    this.$('#conflict-save').hidden = !(mine && row);
    if (mine && row && this.fixing) {
      this.fixing.row = row;
      this.drawAnnotations();
      this.showCurrent(null);
    }
    this.setStatus('Someone else changed this mask first: see the conflict box.', true);
  },

  saveMineAnyway() {
    if (this.conflict?.row && this.fixing) this.saveFix(this.conflict.row.version);
  },

  discardMine() {
    this.fixing = null;
    this.clearConflict();
    this.drawAnnotations();
    this.showCurrent(null);
  },

  clearConflict() {
    this.conflict = null;
    this.$('#conflict').hidden = true;
  },

  selectedRow() {
    return this.rows.find((row) => row.id === this.selectedId) ?? null;
  },
};

// The dashboard: masks per image, seconds and clicks per mask by stage and by model version (the paper's
// 34 s -> 14 s as a bar chart), acceptance rates of pre-filled and automatic masks. Every number comes from
// GET /api/engine/projects/{id}/dashboard, computed on the server from the annotation events.

import { el } from '../dom.js';
import { groupedBars } from './chart.js';
import * as client from './client.js';

const STAGE_NAMES = { 'assisted-manual': 'assisted-manual', 'semi-automatic': 'semi-automatic (added)',
  fix: 'fix of a model mask' };
const fmt = (value, digits = 1, unit = '') => (value === null || value === undefined ? '–' : `${value.toFixed(digits)}${unit}`);

export class DashboardPage {
  constructor(root, setStatus) {
    this.root = root;
    this.setStatus = setStatus;
    this.data = null;
    root.querySelector('#dashboard-reload').addEventListener('click', () => this.open(this.project));
  }

  async open(project) {
    this.project = project;
    this.root.querySelector('#dashboard-project').textContent = project.name;
    const data = await client.dashboard(project.id);
    this.data = data;
    this.renderTiles(data);
    this.renderTiming(data);
    this.renderAcceptance(data);
    this.renderImages(data);
    document.body.dataset.dashboardReady = '1';
    this.setStatus(`Dashboard of ${project.name}: ${Object.values(data.events).reduce((a, b) => a + b, 0)} events.`);
  }

  renderTiles(data) {
    const tile = (name, value, key) => el('div', { class: 'tile', dataset: { key } }, el('strong', {}, value), el('span', {}, name));
    this.root.querySelector('#dashboard-tiles').replaceChildren(
      tile('images', String(data.images), 'images'),
      tile('accepted masks', String(data.accepted_masks), 'accepted'),
      tile('masks per image', fmt(data.masks_per_image, 2), 'masks-per-image'),
      ...data.by_stage.map((row) => tile(`s / mask, ${STAGE_NAMES[row.stage]}`, fmt(row.seconds_per_mask, 1, ' s'), `seconds-${row.stage}`)),
    );
  }

  renderTiming(data) {
    const versions = data.model_versions.map((v) => (v.id === null ? 'unknown' : v.name ?? `#${v.id}`));
    const stages = [...new Set(data.by_model_version.map((row) => row.stage))];
    const valuesOf = (stage, key) => data.model_versions.map((version) => {
      const row = data.by_model_version.find((r) => r.stage === stage && r.model_version_id === version.id);
      return row ? row[key] : null;
    });
    const seconds = stages.map((stage) => ({ name: STAGE_NAMES[stage], values: valuesOf(stage, 'seconds_per_mask') }));
    const clicks = stages.map((stage) => ({ name: STAGE_NAMES[stage], values: valuesOf(stage, 'clicks_per_mask') }));
    this.root.querySelector('#chart-seconds').replaceChildren(
      groupedBars(versions, seconds, { yLabel: 'seconds per mask', format: (v) => v.toFixed(1) }));
    this.root.querySelector('#chart-clicks').replaceChildren(
      groupedBars(versions, clicks, { yLabel: 'clicks per mask', format: (v) => v.toFixed(1) }));
    const body = this.root.querySelector('#timing-table tbody');
    body.replaceChildren(...data.by_model_version.map((row) => el('tr', { dataset: { stage: row.stage, version: row.model_version_id ?? '' } },
      el('td', {}, STAGE_NAMES[row.stage]), el('td', {}, row.model_version ?? 'unknown'), el('td', {}, row.masks),
      el('td', {}, fmt(row.seconds_per_mask, 1, ' s')), el('td', {}, fmt(row.clicks_per_mask, 2)))));
  }

  renderAcceptance(data) {
    const body = this.root.querySelector('#acceptance-table tbody');
    body.replaceChildren(...Object.entries(data.acceptance).map(([source, row]) => el('tr', { dataset: { source } },
      el('td', {}, source), el('td', {}, row.made), el('td', {}, row.kept), el('td', {}, row.fixed),
      el('td', {}, row.rejected), el('td', {}, row.proposed),
      el('td', {}, row.rate === null ? '–' : `${(100 * row.rate).toFixed(1)} %`))));
  }

  renderImages(data) {
    const names = data.per_image.map((row) => row.file_name);
    this.root.querySelector('#chart-images').replaceChildren(groupedBars(names,
      [{ name: 'accepted masks', values: data.per_image.map((row) => row.accepted) }],
      { width: Math.max(360, 70 * names.length), yLabel: 'masks', format: (v) => v.toFixed(0) }));
  }
}

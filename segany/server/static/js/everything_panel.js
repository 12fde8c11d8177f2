// "Everything": runs the server's automatic mask generator as a job (preset choice), shows its progress,
// and hands the masks to the editor. Polling keeps the request path free for hovering meanwhile.

import * as api from './api.js';
import { el } from './dom.js';

const POLL_MS = 250;
// Optional generator settings sent next to the preset; left blank, the preset's value applies.
const OVERRIDES = {
  points_per_side: { label: 'points/side', min: 1, max: 128, step: 1 },
  pred_iou_thresh: { label: 'min IoU', min: 0, max: 1, step: 0.05 },
  stability_score_thresh: { label: 'min stability', min: 0, max: 1, step: 0.05 },
};

export class EverythingPanel {
  // elements: {preset (select), run, cancel, progress, status, show (checkbox)}
  // onResult(imageId, result), onToggle(visible), onError(error)
  constructor(elements, presets, onResult, onToggle, onError) {
    this.elements = elements;
    this.overrides = {};
    for (const [name, spec] of Object.entries(OVERRIDES)) {
      const input = el('input', { type: 'number', min: spec.min, max: spec.max, step: spec.step,
        placeholder: 'preset', dataset: { override: name }, title: name });
      elements.overridesBox.append(el('label', {}, spec.label, input));
      this.overrides[name] = input;
    }
    this.onResult = onResult;
    this.onError = onError;
    this.job = null;
    this.imageId = null;
    elements.preset.replaceChildren(...presets.map((name) => el('option', { value: name }, name)));
    if (presets.includes('fast')) elements.preset.value = 'fast';
    elements.run.addEventListener('click', () => this.run());
    elements.cancel.addEventListener('click', () => this.cancel());
    elements.show.addEventListener('change', () => onToggle(elements.show.checked));
  }

  setImage(imageId, hasResult) {
    this.imageId = imageId;
    this.elements.show.disabled = !hasResult;
    this.elements.show.checked = hasResult;
    this.setStatus(hasResult ? 'Done (cached for this photo).' : '', hasResult ? 1 : 0);
  }

  setStatus(text, progress) {
    this.elements.status.textContent = text;
    this.elements.progress.value = progress;
  }

  async run() {
    if (!this.imageId || this.job) return;
    const imageId = this.imageId;
    const preset = this.elements.preset.value;
    this.elements.run.disabled = true;
    this.elements.cancel.disabled = false;
    try {
      const settings = Object.fromEntries(Object.entries(this.overrides)
        .filter(([, input]) => input.value.trim() !== '')
        .map(([name, input]) => [name, Number(input.value)]));
      const { job_id: jobId } = await api.startEverything(imageId, preset, settings);
      this.job = jobId;
      this.setStatus(`Running (${preset})…`, 0);
      let state = await api.jobState(jobId);
      while (state.state === 'queued' || state.state === 'running') {
        this.setStatus(`${state.state === 'queued' ? 'Queued' : 'Running'} (${preset})… ` +
          `${Math.round(100 * state.progress)}%`, state.progress);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        state = await api.jobState(jobId);
      }
      if (state.state === 'done') {
        const result = await api.jobResult(jobId);
        this.setStatus(result.masks.length
          ? `${result.masks.length} masks (${preset}). Click one to select it.`
          : 'No mask passed the filters: try a lower min IoU / min stability.', 1);
        this.onResult(imageId, result);
        if (imageId === this.imageId) {
          this.elements.show.disabled = false;
          this.elements.show.checked = true;
        }
      } else {
        this.setStatus(state.state === 'cancelled' ? 'Cancelled.' : `Failed: ${state.error}`, 0);
      }
    } catch (error) {
      this.setStatus('', 0);
      this.onError(error);
    } finally {
      this.job = null;
      this.elements.run.disabled = false;
      this.elements.cancel.disabled = true;
    }
  }

  async cancel() {
    if (!this.job) return;
    try {
      await api.cancelJob(this.job);
    } catch (error) {
      this.onError(error);
    }
  }
}

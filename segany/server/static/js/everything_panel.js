// "Everything": runs the server's automatic mask generator as a job (preset choice), shows its progress,
// and hands the masks to the editor. Polling keeps the request path free for hovering meanwhile.

import * as api from './api.js';
import { el } from './dom.js';

const POLL_MS = 250;

export class EverythingPanel {
  // elements: {preset (select), run, cancel, progress, status, show (checkbox)}
  // onResult(imageId, result), onToggle(visible), onError(error)
  constructor(elements, presets, onResult, onToggle, onError) {
    this.elements = elements;
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
      const { job_id: jobId } = await api.startEverything(imageId, preset);
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
        this.setStatus(`${result.masks.length} masks (${preset}). Click one to select it.`, 1);
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

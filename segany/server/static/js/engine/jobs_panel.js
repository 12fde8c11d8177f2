// Stage jobs for admins: pre-fill (semi-automatic) or automatic over the project's images (or only the one
// shown), with the generator's thresholds; progress is polled, and the image's masks reload when it is done.

import * as client from './client.js';

const POLL_MS = 300;

export class JobsPanel {
  constructor(box, project, image, onDone, onError) {
    this.box = box;
    this.project = project;
    this.image = image;
    this.onDone = onDone;
    this.onError = onError;
    this.running = null;
    box.querySelector('#job-run').addEventListener('click', () => this.run().catch(onError));
  }

  setVisible(visible) {
    this.box.hidden = !visible;
  }

  params() {
    const value = (id) => Number(this.box.querySelector(id).value);
    const params = {
      points_per_side: value('#job-points'),
      pred_iou_thresh: value('#job-iou'),
      stability_score_thresh: value('#job-stability'),
      box_nms_thresh: value('#job-nms'),
    };
    if (this.box.querySelector('#job-only-this').checked && this.image()) params.image_ids = [this.image().id];
    return params;
  }

  async run() {
    const project = this.project();
    const kind = this.box.querySelector('#job-kind').value;
    const status = this.box.querySelector('#job-status');
    const progress = this.box.querySelector('#job-progress');
    const started = await client.startJob(project.id, kind, this.params());
    this.running = started.job_id;
    status.textContent = `${kind}: queued`;
    let job = started;
    while (!['done', 'failed', 'cancelled'].includes(job.state)) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await client.job(project.id, started.job_id);
      progress.value = job.progress;
      status.textContent = `${kind}: ${job.state} (${Math.round(job.progress * 100)} %)`;
    }
    this.running = null;
    status.textContent = job.state === 'done' ? `${kind}: done, ${job.masks} mask(s)` : `${kind}: ${job.state} ${job.error ?? ''}`;
    status.dataset.state = job.state;
    await this.onDone();
  }
}

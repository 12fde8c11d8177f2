// The multimask bar: SAM's 3 candidates for an ambiguous prompt with their predicted IoU; keys 1/2/3 or a
// click choose one.

import { el } from './dom.js';

export class CandidatesBar {
  constructor(container, onChoose) {
    this.container = container;
    this.onChoose = onChoose;
  }

  // current: {scores, index} | null
  render(current) {
    if (!current || current.scores.length === 0) {
      this.container.replaceChildren();
      return;
    }
    const many = current.scores.length > 1;
    this.container.replaceChildren(
      el('span', { class: 'hint' }, many ? 'Candidates (keys 1/2/3):' : 'Mask (multi-prompt output):'),
      ...current.scores.map((score, i) =>
        el('button', {
          type: 'button',
          class: i === current.index ? 'candidate chosen' : 'candidate',
          dataset: { index: i },
          onclick: () => this.onChoose(i),
        }, many ? `${i + 1} · IoU ${score.toFixed(3)}` : `IoU ${score.toFixed(3)}`)),
    );
  }
}

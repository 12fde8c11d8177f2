// The side list of one image's annotations: source, status, predicted IoU, and the actions the role allows:
// keep (accept a model's mask as it is), fix (brush / eraser, then save), delete. Automatic masks are the
// reviewers' to keep (the review queue); annotators may fix or delete them.

import { el } from '../dom.js';
import { paletteCss } from '../mask_paint.js';

export class AnnotationList {
  // handlers: {onSelect(row), onKeep(row), onFix(row), onDelete(row)}
  constructor(list, role, handlers) {
    this.list = list;
    this.role = role;
    this.handlers = handlers;
  }

  canKeep(row) {
    if (row.status !== 'proposed') return false;
    if (this.role === 'admin') return true;
    return row.source === 'automatic' ? this.role === 'reviewer' : this.role === 'annotator';
  }

  render(rows, selectedId, fixingId) {
    const annotates = this.role === 'admin' || this.role === 'annotator';
    if (!rows.length) {
      this.list.replaceChildren(el('li', { class: 'empty' }, 'No masks on this image yet.'));
      return;
    }
    this.list.replaceChildren(...rows.map((row) => {
      const colour = row.id; // as the stage draws it
      const score = row.predicted_iou === null ? '' : ` · IoU ${row.predicted_iou.toFixed(2)}`;
      const button = (action, text, title, handler) =>
        el('button', { type: 'button', dataset: { action }, title,
          onclick: (event) => { event.stopPropagation(); handler(row); } }, text);
      return el('li', {
        class: ['annotation', row.status, row.source, row.id === selectedId ? 'selected' : null,
          row.id === fixingId ? 'fixing' : null].filter(Boolean).join(' '),
        dataset: { id: row.id, source: row.source, status: row.status },
        onclick: () => this.handlers.onSelect(row),
      },
      el('span', { class: 'swatch', style: `background:${paletteCss(colour)}` }),
      el('span', { class: 'label' }, `#${row.id} ${row.label ?? row.source}`,
        el('small', {}, ` ${row.status}${score}`)),
      this.canKeep(row) ? button('keep', 'Keep', 'keep as it is (K)', this.handlers.onKeep) : null,
      annotates ? button('fix', 'Fix', 'brush / eraser, then Enter (F)', this.handlers.onFix) : null,
      annotates ? button('delete', 'Delete', 'delete (X / Del)', this.handlers.onDelete) : null);
    }));
  }
}

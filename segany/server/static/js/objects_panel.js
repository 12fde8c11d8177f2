// The objects list: accepted masks with their label and score; select, hide/show and delete each one.

import { el } from './dom.js';
import { paletteCss } from './mask_paint.js';

export class ObjectsPanel {
  // handlers: {onSelect(id), onToggleHidden(id), onDelete(id)}
  constructor(list, handlers) {
    this.list = list;
    this.handlers = handlers;
  }

  // objects: [{id, colourIndex, label, score, hidden, area}]
  render(objects, selectedId) {
    if (objects.length === 0) {
      this.list.replaceChildren(el('li', { class: 'empty' }, 'No objects yet: make a mask and press Enter.'));
      return;
    }
    this.list.replaceChildren(
      ...objects.map((object) =>
        el('li', {
          class: ['object', object.id === selectedId ? 'selected' : null, object.hidden ? 'hidden' : null]
            .filter(Boolean).join(' '),
          dataset: { id: object.id },
          onclick: () => this.handlers.onSelect(object.id),
        },
        el('span', { class: 'swatch', style: `background:${paletteCss(object.colourIndex)}` }),
        el('span', { class: 'label' }, object.label || `object ${object.id}`),
        el('span', { class: 'score' }, object.score === null ? '' : object.score.toFixed(2)),
        el('button', { type: 'button', class: 'hide', title: object.hidden ? 'Show' : 'Hide',
          onclick: (event) => { event.stopPropagation(); this.handlers.onToggleHidden(object.id); } },
        object.hidden ? 'show' : 'hide'),
        el('button', { type: 'button', class: 'delete', title: 'Delete',
          onclick: (event) => { event.stopPropagation(); this.handlers.onDelete(object.id); } }, '✕'))),
    );
  }
}

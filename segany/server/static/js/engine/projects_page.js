// The projects this user may see, with the pages the role allows in each.

import { el } from '../dom.js';

export function renderProjects(list, projects, role) {
  if (!projects.length) {
    list.replaceChildren(el('li', { class: 'empty' }, 'No projects: ask an admin to add you to one.'));
    return;
  }
  const annotates = role === 'admin' || role === 'annotator';
  const reviews = role === 'admin' || role === 'reviewer';
  list.replaceChildren(...projects.map((project) => el('li', { dataset: { id: project.id } },
    el('strong', {}, project.name),
    annotates ? el('a', { href: `#/p/${project.id}`, class: 'button', dataset: { page: 'editor' } }, 'Annotate') : null,
    reviews ? el('a', { href: `#/p/${project.id}/review`, class: 'button', dataset: { page: 'review' } }, 'Review') : null,
    el('a', { href: `#/p/${project.id}/dashboard`, class: 'button', dataset: { page: 'dashboard' } }, 'Dashboard'))));
}

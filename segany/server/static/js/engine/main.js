// The project server's page (/engine): who is logged in, then hash routes
//   #/projects            the projects this user may see
//   #/p/ID                the editor inside project ID (annotators, admins)
//   #/p/ID/review         the review queue (reviewers, admins)
//   #/p/ID/dashboard      the dashboard (every member)
// A 401 anywhere shows the login form.

import * as client from './client.js';
import { DashboardPage } from './dashboard_page.js';
import { bindLogin } from './login_page.js';
import { ProjectEditor } from './project_editor.js';
import { renderProjects } from './projects_page.js';
import { ReviewPage } from './review_page.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['login', 'projects', 'editor', 'review', 'dashboard'];

const app = { user: null, projects: [], editor: null, review: null, dashboard: null, view: null };

function setStatus(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

function show(view) {
  app.view = view;
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  document.body.dataset.view = view;
}

async function loggedIn(user) {
  app.user = user;
  $('who').textContent = `${user.username} (${user.role})`;
  $('logout').hidden = false;
  app.editor = null;
  app.review = null;
  app.dashboard = null;
  await route();
}

async function route() {
  if (!app.user) {
    show('login');
    return;
  }
  document.body.dataset.ready = '0';
  app.projects = await client.projects();
  const match = /^#\/p\/(\d+)(?:\/(review|dashboard))?$/.exec(window.location.hash);
  const project = match ? app.projects.find((p) => p.id === Number(match[1])) : null;
  const role = app.user.role;
  for (const link of document.querySelectorAll('nav.pages a[data-page]')) {
    const page = link.dataset.page;
    link.hidden = !project || (page === 'editor' && role === 'reviewer') || (page === 'review' && role === 'annotator');
    if (project) link.href = `#/p/${project.id}${link.dataset.page === 'editor' ? '' : `/${link.dataset.page}`}`;
  }
  if (!project) {
    renderProjects($('project-list'), app.projects, app.user.role);
    show('projects');
    setStatus(match ? `Unknown project ${match[1]}.` : `Logged in as ${app.user.username}.`, Boolean(match));
  } else if (match[2] === 'review') {
    app.review ??= new ReviewPage($('view-review'), setStatus);
    show('review');
    await app.review.open(project);
  } else if (match[2] === 'dashboard') {
    app.dashboard ??= new DashboardPage($('view-dashboard'), setStatus);
    show('dashboard');
    await app.dashboard.open(project);
  } else {
    app.editor ??= new ProjectEditor($('view-editor'), app.user, setStatus);
    show('editor');
    await app.editor.openProject(project);
  }
  document.body.dataset.ready = '1';
}

function onKey(event) {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement;
  if (typing && !(event.key === 'Enter' && target.id === 'label-input') && event.key !== 'Escape') return;
  if (typing && event.key === 'Escape') target.blur();
  const page = app.view === 'editor' ? app.editor : app.view === 'review' ? app.review : null;
  if (page && page.onKey(event)) event.preventDefault();
}

async function main() {
  window.seganyApp = app;
  bindLogin($('login-form'), loggedIn, setStatus);
  $('logout').addEventListener('click', async () => {
    await client.logout().catch(() => {});
    // A fresh page for the next user: nothing of this one's editor (canvases, caches, listeners) stays.
    window.location.replace('/engine');
  });
  window.addEventListener('hashchange', () => route().catch(report));
  document.addEventListener('keydown', onKey);
  window.addEventListener('unhandledrejection', (event) => report(event.reason));
  try {
    const session = await client.me();
    client.setCsrf(session.csrf_token);
    await loggedIn(session.user);
  } catch (error) {
    if (error.status !== 401) report(error);
    show('login');
  }
  document.body.dataset.started = '1';
}

function report(error) {
  if (error?.status === 401) {
    app.user = null;
    show('login');
    setStatus('Please log in.');
    return;
  }
  setStatus(String(error?.message ?? error), true);
}

main();

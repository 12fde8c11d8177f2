// The HTTP client of the project pages (/api/engine/...): the session cookie travels by itself, the CSRF
// token from the login (or /me after a reload) goes in X-CSRF-Token on every change, also on the
// single-user routes the editor uses for encode and predict (api.setSessionHeaders).

import * as api from '../api.js';

export const ApiError = api.ApiError;
const BASE = '/api/engine';
let csrfToken = '';

export function setCsrf(token) {
  csrfToken = token ?? '';
  api.setSessionHeaders(csrfToken ? { 'X-CSRF-Token': csrfToken } : {});
}

const errorOf = api.errorFromResponse;

function headersFor(method, body) {
  const headers = { 'X-Segany-Client': '1' };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined && !(body instanceof FormData)) headers['Content-Type'] = 'application/json';
  return headers;
}

export async function request(method, path, body) {
  const payload = body === undefined || body instanceof FormData ? body : JSON.stringify(body);
  const response = await fetch(`${BASE}${path}`, { method, headers: headersFor(method, body), body: payload });
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A POST that may be sent again: the body carries an idempotency key, so a retry after a lost answer (network
// error, 5xx) finds the first row instead of adding a twin. onRetry(attempt, error) reports each retry.
export async function postIdempotent(path, body, onRetry = () => {}, attempts = 5) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request('POST', path, body);
    } catch (error) {
      const transient = !(error instanceof ApiError) || error.status >= 500;
      if (!transient || attempt >= attempts) throw error;
      onRetry(attempt, error);
      await sleep(200 * 2 ** (attempt - 1));
    }
  }
}

export const me = () => request('GET', '/me');
export const login = (username, password) => request('POST', '/login', { username, password });
export const logout = () => request('POST', '/logout');
export const projects = () => request('GET', '/projects');
export const images = (projectId) => request('GET', `/projects/${projectId}/images`);
export const imageUrl = (projectId, imageId) => `${BASE}/projects/${projectId}/images/${imageId}/file`;
export const annotations = (projectId, imageId) =>
  request('GET', `/projects/${projectId}/images/${imageId}/annotations`);
export const promptEvent = (projectId, imageId, payload) =>
  request('POST', `/projects/${projectId}/images/${imageId}/events`, { kind: 'prompt', payload });
export const accept = (projectId, imageId, body, onRetry) =>
  postIdempotent(`/projects/${projectId}/images/${imageId}/annotations`, body, onRetry);
export const edit = (projectId, annotationId, body) =>
  request('PUT', `/projects/${projectId}/annotations/${annotationId}`, body);
export const remove = (projectId, annotationId, version) =>
  request('DELETE', `/projects/${projectId}/annotations/${annotationId}?version=${version}`);
export const decide = (projectId, annotationId, version, decision) =>
  request('POST', `/projects/${projectId}/annotations/${annotationId}/decision`, { version, decision });
export const startJob = (projectId, kind, params) => request('POST', `/projects/${projectId}/jobs`, { kind, params });
export const job = (projectId, jobId) => request('GET', `/projects/${projectId}/jobs/${jobId}`);
export const reviewQueue = (projectId, count, seed) =>
  request('GET', `/projects/${projectId}/review?count=${count}&seed=${seed}`);
export const precision = (projectId, thresholds) =>
  request('GET', `/projects/${projectId}/review/precision?thresholds=${encodeURIComponent(thresholds)}`);
export const dashboard = (projectId) => request('GET', `/projects/${projectId}/dashboard`);
export const exportUrl = (projectId, format) => `${BASE}/projects/${projectId}/export?format=${format}`;

export async function uploadImage(projectId, file) {
  const form = new FormData();
  form.append('file', file, file.name || 'upload.png');
  return request('POST', `/projects/${projectId}/images`, form);
}

// Compressed COCO RLE strings (as the engine stores masks) -> uncompressed counts (pycocotools' LEB128-like
// code: 5 bits a char, offset 48, each count after the second a delta against the one two before).
export function decodeCompressedCounts(text) {
  const counts = [];
  let position = 0;
  while (position < text.length) {
    let value = 0;
    let shift = 0;
    let more = true;
    while (more) {
      const c = text.charCodeAt(position) - 48;
      value |= (c & 0x1f) << shift;
      more = (c & 0x20) !== 0;
      position += 1;
      shift += 5;
      if (!more && (c & 0x10)) value |= -1 << shift;
    }
    if (counts.length > 2) value += counts[counts.length - 2];
    counts.push(value);
  }
  return counts;
}

export function uncompressedRle(rle) {
  return typeof rle.counts === 'string' ? { size: rle.size, counts: decodeCompressedCounts(rle.counts) } : rle;
}

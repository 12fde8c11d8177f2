// The HTTP client of the page: one function per endpoint of the server's API (OpenAPI at /api/docs).
// Every mutating request carries `X-Segany-Client: 1` (the server's CSRF guard).

const CLIENT_HEADER = { 'X-Segany-Client': '1' };
let sessionHeaders = {}; // a project server's login adds its CSRF token here (js/engine/client.js)

export function setSessionHeaders(headers) {
  sessionHeaders = { ...headers };
}

export class ApiError extends Error {
  constructor(status, detail, field) {
    super(field ? `${detail} (field: ${field})` : detail);
    this.status = status;
    this.detail = detail;
    this.field = field ?? null;
  }
}

// The ApiError of a failed response: the server's `detail` and `field` when it answered JSON.
export async function errorFromResponse(response) {
  let detail = `${response.status} ${response.statusText}`;
  let field = null;
  try {
    const body = await response.json();
    if (typeof body.detail === 'string') detail = body.detail;
    else if (body.detail !== undefined) detail = JSON.stringify(body.detail);
    field = body.field ?? null;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, detail, field);
}

async function raiseForStatus(response) {
  if (response.ok) return response;
  throw await errorFromResponse(response);
}

async function getJson(url, options = {}) {
  return (await raiseForStatus(await fetch(url, options))).json();
}

async function send(method, url, body, options = {}) {
  const headers = { ...CLIENT_HEADER, ...sessionHeaders };
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  return raiseForStatus(await fetch(url, { method, headers, body: payload, ...options }));
}

const imagePath = (id) => `/api/images/${encodeURIComponent(id)}`;

export const getInfo = () => getJson('/api/info');
export const listImages = () => getJson('/api/images');
export const imageFileUrl = (id) => `${imagePath(id)}/file`;

export async function uploadImage(file) {
  const form = new FormData();
  form.append('file', file, file.name || 'pasted.png');
  return (await send('POST', '/api/images', form)).json();
}

// priority 'now': the photo the user opened (encoded next, at normal priority); 'ahead': a head start.
export async function startEncode(id, priority = 'ahead') {
  return (await send('POST', `${imagePath(id)}/encode?priority=${priority}`)).json();
}

export const encodeState = (id) => getJson(`${imagePath(id)}/encode`);

// The user is prompting with browser decoding: the server holds its encode-ahead for a moment (204).
export async function noteActivity() {
  await send('POST', '/api/activity');
}

function parseSize(header, name) {
  const values = (header ?? '').split(',').map((v) => Number.parseInt(v, 10));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new Error(`embedding response: header ${name} is ${JSON.stringify(header)}, expected integers`);
  }
  return values;
}

// Float32 little-endian C-order 1 x C x h x w, plus the resized (input) and original sizes, both (H, W).
export async function getEmbedding(id) {
  const response = await raiseForStatus(await fetch(`${imagePath(id)}/embedding`));
  const buffer = await response.arrayBuffer();
  return {
    data: new Float32Array(buffer),
    shape: parseSize(response.headers.get('X-Embedding-Shape'), 'X-Embedding-Shape'),
    inputSize: parseSize(response.headers.get('X-Input-Size'), 'X-Input-Size'),
    originalSize: parseSize(response.headers.get('X-Original-Size'), 'X-Original-Size'),
  };
}

// An exported decoder graph (/api/decoder.onnx, or one of /api/info's decoder_files) as bytes.
export async function getDecoderModel(url = '/api/decoder.onnx') {
  const response = await raiseForStatus(await fetch(url));
  return {
    bytes: await response.arrayBuffer(),
    multimask: response.headers.get('X-Decoder-Multimask') !== '0',
  };
}

// body: {points: [[x, y]], labels: [1|0], box: [x0, y0, x1, y1] | null, previous, multimask}
export async function predict(id, body) {
  return (await send('POST', `${imagePath(id)}/predict`, body)).json();
}

// The hover answer: the best candidate for one positive point at original pixel (x, y), as binary RLE.
// -> {size: [H, W], counts: Uint32Array (column-major runs, background first), score, index, serverMs}
export async function hover(id, x, y) {
  const response = await send('POST', `${imagePath(id)}/hover`, { x, y });
  const counts = new Uint32Array(await response.arrayBuffer()); // little-endian, as every browser CPU
  return {
    size: parseSize(response.headers.get('X-Mask-Size'), 'X-Mask-Size'),
    counts,
    score: Number.parseFloat(response.headers.get('X-Score')),
    index: Number.parseInt(response.headers.get('X-Candidate'), 10),
    serverMs: serverTiming(response.headers.get('Server-Timing')),
  };
}

// 'decode;dur=3.1, rle;dur=0.4' -> {decode: 3.1, rle: 0.4}
function serverTiming(header) {
  const stages = {};
  for (const part of (header ?? '').split(',')) {
    const match = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (match) stages[match[1]] = Number.parseFloat(match[2]);
  }
  return stages;
}

// overrides: optional generator settings next to the preset (points_per_side, pred_iou_thresh, ...)
export async function startEverything(id, preset, overrides = {}) {
  return (await send('POST', `${imagePath(id)}/everything`, { preset, ...overrides })).json();
}

export const jobState = (jobId) => getJson(`/api/jobs/${encodeURIComponent(jobId)}`);
export const jobResult = (jobId) => getJson(`/api/jobs/${encodeURIComponent(jobId)}/result`);

export async function cancelJob(jobId) {
  await send('DELETE', `/api/jobs/${encodeURIComponent(jobId)}`);
}

function attachmentName(response, fallback) {
  const header = response.headers.get('Content-Disposition') ?? '';
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  return match ? decodeURIComponent(match[1]) : fallback;
}

// body: {format, objects: [{size, counts, label, score}], index} -> {blob, filename}
export async function exportObjects(id, body) {
  const response = await send('POST', `${imagePath(id)}/export`, body);
  return { blob: await response.blob(), filename: attachmentName(response, `segany_${body.format}`) };
}

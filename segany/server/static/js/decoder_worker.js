// Browser decoding (a module Web Worker): SAM's prompt decoder exported to ONNX, run by onnxruntime-web's
// WebAssembly back end on the embedding the server computed.
//
// Models (bytes from the server): `decoder` (the official contract, /api/decoder.onnx, or the same graph
// without the upscaling, decoder_lowres.onnx) and optionally the cached pair: `prep` (once per image:
// embedding -> image terms) and `cached` (per prompt: points + image terms -> low-res masks, no mask input),
// ~2x cheaper per prompt; it serves every prompt without previous logits (all hovers, first clicks).
//
// Messages in:  {id, op: 'load', models: {decoder, prep?, cached?}, multimask, frame, lowRes, embeddingShape,
//                threads, spin}
//               {id, op: 'image', imageId, embedding, shape, inputSize, originalSize}   one image's embedding
//               {id, op: 'decode', imageId, points, labels, box, previous, multimask, want}
// Messages out: {id, ok: true, result} or {id, ok: false, error}
// Low-res logits of recent predictions stay here (keyed by the returned `ref`), so a refinement sends only
// {ref, index} back, as the server's prediction ids do.

import * as ort from '../vendor/onnxruntime-web/ort.wasm.min.mjs';
import { upsampleMask, upsamplePlan } from './mask_upsample.js';

const MAX_IMAGES = 4;
const MAX_LOGITS = 32;
// Warm-up prompts at load: WebAssembly starts in V8's baseline compiler and its hot kernels are recompiled
// optimised in the background, so a fresh page's first ~10 decodes took up to 2-3x as long (vit_b, measured:
// benchmarks/MEASUREMENTS.md, "browser warm-up"). They run on a blank embedding while the server encodes the
// first photo, so the user's first hovers get the fast code.
const WARMUP_RUNS = 12;
const WARMUP_MAX_MS = 2000;

const sessions = {}; // role -> ort.InferenceSession: decoder, and prep + cached when given
let model = null; // {multimask, frame (S), lowRes (L)}
const images = new Map(); // imageId -> {tensor, terms, inputSize, originalSize, plan}
const logits = new Map(); // ref -> {imageId, lowRes: [Float32Array L*L per candidate]}
let nextRef = 1;
let scratch = null;

function remember(map, key, value, limit) {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value);
}

// threads: wasm threads asked for (0 = auto); spin: whether idle intra-op threads spin (ORT's default: a
// prompt starts sooner, at the price of CPU the page and the server may need).
async function load({ models, multimask, frame, lowRes, embeddingShape, threads, spin = true }) {
  ort.env.wasm.wasmPaths = new URL('../vendor/onnxruntime-web/', import.meta.url).href;
  // Threads need SharedArrayBuffer, which needs the page to be cross-origin isolated (COOP/COEP headers).
  // Auto: every core up to 2, then one core left to the page's main thread (it draws each mask while the
  // next decode may run), at most 4 (the decoder's matrices are small). On this project's 2-core machine,
  // with `segany serve` on the same CPU, 2 threads gave vit_b hovers 56 / 74 ms p50 / p95 against 116 / 127
  // for 1 (benchmarks/bench_serve_browser.py --threads 1 2; benchmarks/MEASUREMENTS.md).
  const cores = navigator.hardwareConcurrency || 1;
  const wanted = threads > 0 ? threads : Math.max(1, Math.min(4, cores <= 2 ? cores : cores - 1));
  ort.env.wasm.numThreads = self.crossOriginIsolated ? wanted : 1;
  for (const [role, bytes] of Object.entries(models)) {
    sessions[role] = await ort.InferenceSession.create(new Uint8Array(bytes), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
    });
  }
  model = { multimask, frame, lowRes };
  const warmup = embeddingShape ? await warmUp(embeddingShape) : { runs: 0, ms: [] };
  return { threads: ort.env.wasm.numThreads, spin, roles: Object.keys(sessions), warmup };
}

// A few one-point prompts on a blank embedding through the graph hovers use (the cached one when present);
// returns their times, so the page can show what the warm-up bought.
async function warmUp(shape) {
  const blank = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  const side = model.frame; // a blank "photo" the size of the model's input frame
  const image = { tensor: blank, originalSize: [side, side], inputSize: [side, side] };
  const terms = sessions.prep && sessions.cached ? await sessions.prep.run({ image_embeddings: blank }) : null;
  const session = terms ? sessions.cached : sessions.decoder;
  const times = [];
  const started = performance.now();
  for (let i = 0; i < WARMUP_RUNS && performance.now() - started < WARMUP_MAX_MS; i++) {
    const prompt = promptTensors(image, [[(i + 1) * side / (WARMUP_RUNS + 2), side / 2]], [1], null);
    const feeds = terms ? { ...prompt, ...terms } : fullDecoderFeeds(image, prompt, null);
    const t0 = performance.now();
    const out = await session.run(feedsFor(session, feeds));
    times.push(Math.round(performance.now() - t0));
    for (const tensor of Object.values(out)) tensor.dispose?.();
  }
  return { runs: times.length, ms: times };
}

async function setImage({ imageId, embedding, shape, inputSize, originalSize }) {
  const tensor = new ort.Tensor('float32', embedding, shape);
  // The cached pair's image terms: computed once here, fed by name to every cached-graph prompt.
  const terms = sessions.prep && sessions.cached ? await sessions.prep.run({ image_embeddings: tensor }) : null;
  remember(images, imageId, {
    tensor,
    terms,
    inputSize,
    originalSize,
    plan: upsamplePlan(originalSize, inputSize, model.frame, model.lowRes),
  }, MAX_IMAGES);
  return { imageId, cached: terms !== null };
}

// Feeds `session` the entries of `available` it declares as inputs (the graphs take different subsets).
function feedsFor(session, available) {
  return Object.fromEntries(session.inputNames.map((name) => {
    if (!(name in available)) throw new Error(`decoder input ${name} is not provided by the page`);
    return [name, available[name]];
  }));
}

// Points (and box corners) from original pixels to the model's input frame, SAM's sparse prompt layout:
// points, then the box corners (labels 2, 3), or a padding point (0, 0) labelled -1 when there is no box.
function promptTensors(image, points, labels, box) {
  const [height, width] = image.originalSize;
  const [inHeight, inWidth] = image.inputSize;
  const sx = inWidth / width;
  const sy = inHeight / height;
  const coords = [];
  const kinds = [];
  points.forEach(([x, y], i) => {
    coords.push(x * sx, y * sy);
    kinds.push(labels[i]);
  });
  if (box) {
    coords.push(box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy);
    kinds.push(2, 3);
  } else {
    coords.push(0, 0);
    kinds.push(-1);
  }
  const count = kinds.length;
  return {
    point_coords: new ort.Tensor('float32', Float32Array.from(coords), [1, count, 2]),
    point_labels: new ort.Tensor('float32', Float32Array.from(kinds), [1, count]),
  };
}

// The full decoder's feeds that never change: the empty mask input (prompts without previous logits when
// the cached pair is absent) and the 1 x 1 upscaling target. Made once, not per prompt.
let constantFeeds = null;

function fullDecoderFeeds(image, prompt, maskInput) {
  if (!constantFeeds) {
    constantFeeds = {
      noMask: new ort.Tensor('float32', new Float32Array(model.lowRes * model.lowRes), [1, 1, model.lowRes, model.lowRes]),
      hasNoMask: new ort.Tensor('float32', Float32Array.of(0), [1]),
      hasMask: new ort.Tensor('float32', Float32Array.of(1), [1]),
      // decoder.onnx's own upscaling is not used (the chosen mask is upsampled below): a 1 x 1 target keeps
      // its last resize cheap (decoder_lowres.onnx has no such input).
      origSize: new ort.Tensor('float32', Float32Array.of(1, 1), [2]),
    };
  }
  return {
    image_embeddings: image.tensor,
    ...prompt,
    mask_input: maskInput
      ? new ort.Tensor('float32', maskInput, [1, 1, model.lowRes, model.lowRes])
      : constantFeeds.noMask,
    has_mask_input: maskInput ? constantFeeds.hasMask : constantFeeds.hasNoMask,
    orig_im_size: constantFeeds.origSize,
  };
}

// want 'best' (hover): only the best candidate is upsampled and nothing is kept for refinement (ref null);
// 'all': every candidate, and their low-res logits kept under the returned ref.
async function decode({ imageId, points, labels, box, previous, multimask, want }) {
  const image = images.get(imageId);
  if (!image) throw new Error(`image ${imageId} has no embedding in the browser decoder`);
  const area = model.lowRes * model.lowRes;
  let maskInput = null; // L x L logits of the refined prediction
  if (previous) {
    const earlier = logits.get(previous.ref);
    if (earlier && earlier.imageId === imageId && earlier.lowRes[previous.index]) {
      maskInput = earlier.lowRes[previous.index];
    }
  }
  const prompt = promptTensors(image, points, labels, box);
  const useCached = maskInput === null && image.terms !== null;
  const session = useCached ? sessions.cached : sessions.decoder;
  const available = useCached ? { ...prompt, ...image.terms } : fullDecoderFeeds(image, prompt, maskInput);
  const started = performance.now();
  const out = await session.run(feedsFor(session, available));
  const decodeMs = performance.now() - started;
  const iou = out.iou_predictions.data;
  const low = out.low_res_masks.data;
  // With the 4-token decoder, token 0 is the multi-prompt mask and tokens 1..3 the candidates.
  const tokens = model.multimask ? (multimask ? [1, 2, 3] : [0]) : [0];
  const scores = tokens.map((t) => iou[t]);
  const best = scores.indexOf(Math.max(...scores));
  const indices = want === 'best' ? [best] : tokens.map((_, i) => i);
  // Views into the output (no copy) for the upsampling; copies only of what is kept for refinement.
  const view = (i) => low.subarray(tokens[i] * area, (tokens[i] + 1) * area);
  let ref = null;
  if (want !== 'best') {
    ref = nextRef++;
    remember(logits, ref, { imageId, lowRes: tokens.map((_, i) => view(i).slice()) }, MAX_LOGITS);
  }
  const masks = {};
  const transfer = [];
  if (!scratch || scratch.length < model.lowRes * image.originalSize[1]) {
    scratch = new Float32Array(model.lowRes * image.originalSize[1]);
  }
  const upsampleStart = performance.now();
  for (const i of indices) {
    const mask = upsampleMask(image.plan, view(i), scratch);
    masks[i] = mask;
    transfer.push(mask.data.buffer);
  }
  const upsampleMs = performance.now() - upsampleStart;
  for (const tensor of Object.values(out)) tensor.dispose?.();
  const graph = useCached ? 'cached' : 'decoder';
  return { result: { ref, scores, best, masks, decodeMs, upsampleMs, graph }, transfer };
}

self.onmessage = async (event) => {
  const { id, op } = event.data;
  try {
    let reply;
    if (op === 'load') reply = { result: await load(event.data), transfer: [] };
    else if (op === 'image') reply = { result: await setImage(event.data), transfer: [] };
    else if (op === 'decode') reply = await decode(event.data);
    else throw new Error(`unknown operation ${JSON.stringify(op)}`);
    self.postMessage({ id, ok: true, result: reply.result }, reply.transfer);
  } catch (error) {
    self.postMessage({ id, ok: false, error: String(error?.message ?? error) });
  }
};

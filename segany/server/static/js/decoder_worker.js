// Browser decoding (a module Web Worker): SAM's prompt decoder exported to ONNX (the official contract, served
// at /api/decoder.onnx), run by onnxruntime-web's WebAssembly back end on the embedding the server computed.
//
// Messages in:  {id, op: 'load', bytes, multimask, frame, lowRes}        the decoder model (once)
//               {id, op: 'image', imageId, embedding, shape, inputSize, originalSize}   one image's embedding
//               {id, op: 'decode', imageId, points, labels, box, previous, multimask, want}
// Messages out: {id, ok: true, result} or {id, ok: false, error}
// Low-res logits of recent predictions stay here (keyed by the returned `ref`), so a refinement sends only
// {ref, index} back, as the server's prediction ids do.

import * as ort from '../vendor/onnxruntime-web/ort.wasm.min.mjs';
import { upsampleMask, upsamplePlan } from './mask_upsample.js';

const MAX_IMAGES = 4;
const MAX_LOGITS = 32;

let session = null;
let model = null; // {multimask, frame (S), lowRes (L)}
const images = new Map(); // imageId -> {tensor, inputSize, originalSize, plan}
const logits = new Map(); // ref -> {imageId, lowRes: [Float32Array L*L per candidate]}
let nextRef = 1;
let scratch = null;

function remember(map, key, value, limit) {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value);
}

async function load({ bytes, multimask, frame, lowRes }) {
  ort.env.wasm.wasmPaths = new URL('../vendor/onnxruntime-web/', import.meta.url).href;
  // Threads need SharedArrayBuffer, which needs the page to be cross-origin isolated (COOP/COEP headers).
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  session = await ort.InferenceSession.create(new Uint8Array(bytes), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  model = { multimask, frame, lowRes };
  return { threads: ort.env.wasm.numThreads, inputs: session.inputNames, outputs: session.outputNames };
}

function setImage({ imageId, embedding, shape, inputSize, originalSize }) {
  images.delete(imageId);
  remember(images, imageId, {
    tensor: new ort.Tensor('float32', embedding, shape),
    inputSize,
    originalSize,
    plan: upsamplePlan(originalSize, inputSize, model.frame, model.lowRes),
  }, MAX_IMAGES);
  return { imageId };
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

async function decode({ imageId, points, labels, box, previous, multimask, want }) {
  const image = images.get(imageId);
  if (!image) throw new Error(`image ${imageId} has no embedding in the browser decoder`);
  const area = model.lowRes * model.lowRes;
  const maskInput = new Float32Array(area);
  let hasMask = 0;
  if (previous) {
    const earlier = logits.get(previous.ref);
    if (earlier && earlier.imageId === imageId && earlier.lowRes[previous.index]) {
      maskInput.set(earlier.lowRes[previous.index]);
      hasMask = 1;
    }
  }
  const feeds = {
    image_embeddings: image.tensor,
    ...promptTensors(image, points, labels, box),
    mask_input: new ort.Tensor('float32', maskInput, [1, 1, model.lowRes, model.lowRes]),
    has_mask_input: new ort.Tensor('float32', Float32Array.of(hasMask), [1]),
    // The graph's own upscaling is not used (the chosen mask is upsampled below): a 1 x 1 target keeps it
    // cheap.
    orig_im_size: new ort.Tensor('float32', Float32Array.of(1, 1), [2]),
  };
  const started = performance.now();
  const out = await session.run(feeds);
  const decodeMs = performance.now() - started;
  const iou = out.iou_predictions.data;
  const low = out.low_res_masks.data;
  // With the 4-token decoder, token 0 is the multi-prompt mask and tokens 1..3 the candidates.
  const tokens = model.multimask ? (multimask ? [1, 2, 3] : [0]) : [0];
  const scores = tokens.map((t) => iou[t]);
  const candidates = tokens.map((t) => low.slice(t * area, (t + 1) * area));
  const best = scores.indexOf(Math.max(...scores));
  const ref = nextRef++;
  remember(logits, ref, { imageId, lowRes: candidates }, MAX_LOGITS);
  const indices = want === 'best' ? [best] : candidates.map((_, i) => i);
  const masks = {};
  const transfer = [];
  if (!scratch || scratch.length < model.lowRes * image.originalSize[1]) {
    scratch = new Float32Array(model.lowRes * image.originalSize[1]);
  }
  for (const i of indices) {
    const mask = upsampleMask(image.plan, candidates[i], scratch);
    masks[i] = mask;
    transfer.push(mask.data.buffer);
  }
  for (const tensor of Object.values(out)) tensor.dispose?.();
  return { result: { ref, scores, best, masks, decodeMs }, transfer };
}

self.onmessage = async (event) => {
  const { id, op } = event.data;
  try {
    let reply;
    if (op === 'load') reply = { result: await load(event.data), transfer: [] };
    else if (op === 'image') reply = { result: setImage(event.data), transfer: [] };
    else if (op === 'decode') reply = await decode(event.data);
    else throw new Error(`unknown operation ${JSON.stringify(op)}`);
    self.postMessage({ id, ok: true, result: reply.result }, reply.transfer);
  } catch (error) {
    self.postMessage({ id, ok: false, error: String(error?.message ?? error) });
  }
};

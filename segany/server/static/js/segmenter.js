// Predictions for the editor, decoded on the server or in the browser (the same answers either way):
//   result = {ref, scores: [float], best, masks: {index: mask}, rles: {index: rle} | null, decoder}
// `ref` identifies the prediction's low-res logits for refinement (a server prediction id, or the browser
// worker's id). Click predictions are cached per image and prompt, so undo/redo never asks again.

import * as api from './api.js';
import { wantsMultimask } from './actions.js';
import { fillRle, rleToMask } from './rle.js';

const CACHE_LIMIT = 64; // predictions kept per image
// Browser decoding never asks the server, so the page tells it the user is prompting (at most this often):
// the server's background encode-ahead then waits (it holds ~1 s after each ping) instead of taking the CPU
// the browser decodes on, where both share one machine.
const ACTIVITY_PING_MS = 300;

export class Segmenter {
  constructor(browserDecoder) {
    this.browserDecoder = browserDecoder; // null when the server offers no browser decoding
    this.mode = 'server';
    this.cache = new Map(); // `${mode}|${imageId}|${key}` -> Promise<result>
    this.lastPing = -Infinity;
  }

  pingActivity() {
    const now = performance.now();
    if (now - this.lastPing < ACTIVITY_PING_MS) return;
    this.lastPing = now;
    api.noteActivity().catch(() => {}); // best effort: it only sets the pace of background work
  }

  setMode(mode) {
    if (mode === 'browser' && !this.browserDecoder) throw new Error('this server offers no browser decoding');
    this.mode = mode;
    // The decoder models and onnxruntime-web's start-up, now: they then overlap the first photo's encoding
    // instead of following it. A failure here comes back (and is reported) on the first decode.
    if (mode === 'browser') this.browserDecoder.ensureModel().catch(() => {});
  }

  // Starts what browser decoding needs for an image (the model and the embedding); no-op on the server.
  prepare(imageId) {
    if (this.mode === 'browser') return this.browserDecoder.ensureImage(imageId);
    return Promise.resolve();
  }

  // One positive point, 3 candidates, only the best turned into a mask (the hover of the paper's demo).
  // On the server this is its own lean request: only the best mask comes back, as binary RLE.
  async hover(imageId, x, y) {
    if (this.mode === 'browser') {
      const prompt = { points: [[x, y]], labels: [1], box: null };
      const sent = performance.now();
      const result = await this.run(imageId, prompt, null, true, 'best');
      // ms: the worker's round trip, its decoder run, the upsampling of the best mask
      result.stages = { request: performance.now() - sent, decode: result.decodeMs, mask: result.upsampleMs };
      return result;
    }
    const sent = performance.now();
    const reply = await api.hover(imageId, x, y);
    const received = performance.now();
    const [height, width] = reply.size;
    const data = new Uint8Array(width * height);
    const covered = fillRle(data, width, { size: reply.size, counts: reply.counts }, 1);
    if (covered !== width * height) throw new Error(`hover mask covers ${covered} pixels, expected ${width * height}`);
    const scores = [];
    scores[reply.index] = reply.score;
    return {
      ref: null,
      scores,
      best: reply.index,
      masks: { [reply.index]: { width, height, data } },
      rles: null,
      decoder: 'server',
      // ms: the request's round trip, the server's own time and decoder run, the mask built from the RLE
      stages: { request: received - sent, server: reply.serverMs.total ?? null,
        decode: reply.serverMs.decode ?? null, mask: performance.now() - received },
    };
  }

  // The prediction for prompt step `step`, refined with `previousStep`'s chosen candidate when given.
  predictStep(imageId, step, previousStep) {
    const cacheKey = `${this.mode}|${imageId}|${step.key}`;
    if (!this.cache.has(cacheKey)) {
      const promise = (async () => {
        let previous = null;
        if (previousStep) {
          const earlier = await this.predictStep(imageId, previousStep, null);
          previous = { ref: earlier.ref, index: previousStep.choice ?? earlier.best };
        }
        const prompt = { points: step.points, labels: step.labels, box: step.box };
        return this.run(imageId, prompt, previous, wantsMultimask(step), 'all');
      })();
      promise.catch(() => this.cache.delete(cacheKey));
      this.cache.set(cacheKey, promise);
      while (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value);
    }
    return this.cache.get(cacheKey);
  }

  async run(imageId, prompt, previous, multimask, want) {
    if (this.mode === 'browser') {
      this.pingActivity();
      const result = await this.browserDecoder.decode(imageId, prompt, previous, multimask, want);
      return { ...result, rles: null, decoder: 'browser' };
    }
    const body = { ...prompt, multimask, previous: previous && { prediction_id: previous.ref, index: previous.index } };
    let reply;
    try {
      reply = await api.predict(imageId, body);
    } catch (error) {
      // The server keeps logits in a small LRU: an expired one means predicting without refinement.
      if (!(error instanceof api.ApiError && error.status === 409 && previous)) throw error;
      reply = await api.predict(imageId, { ...body, previous: null });
    }
    const indices = want === 'best' ? [reply.best] : reply.masks.map((_, i) => i);
    const masks = {};
    const rles = {};
    for (const i of indices) {
      masks[i] = rleToMask(reply.masks[i]);
      rles[i] = reply.masks[i];
    }
    return { ref: reply.prediction_id, scores: reply.scores, best: reply.best, masks, rles, decoder: 'server' };
  }
}

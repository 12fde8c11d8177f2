// Main-thread side of browser decoding: fetches the decoder model once and each image's embedding once, and
// talks to decoder_worker.js, which runs onnxruntime-web off the main thread.

import * as api from './api.js';

// As many embeddings as the worker keeps (decoder_worker.js MAX_IMAGES): both sides evict the oldest.
const MAX_IMAGES = 4;

export class BrowserDecoder {
  // threads: onnxruntime-web wasm threads (0: auto, see decoder_worker.js); spin: whether they spin when idle
  constructor(modelInfo, decoderFiles, threads = 0, spin = true) {
    this.threads = threads;
    this.spin = spin;
    this.modelInfo = modelInfo; // /api/info's "model": image_size (S), low_res_size (L)
    this.decoderFiles = decoderFiles; // /api/info's "decoder_files" (role -> URL) or undefined
    this.worker = new Worker(new URL('./decoder_worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event) => this.onReply(event.data);
    this.worker.onerror = (event) => this.failAll(new Error(`decoder worker: ${event.message}`));
    this.pending = new Map();
    this.nextId = 1;
    this.modelReady = null;
    this.images = new Map(); // imageId -> Promise (embedding sent)
    this.loadInfo = null;
  }

  call(op, payload, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...payload }, transfer);
    });
  }

  onReply({ id, ok, result, error }) {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (ok) waiter.resolve(result);
    else waiter.reject(new Error(error));
  }

  failAll(error) {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  // The decoder model(s), once: decoder_lowres.onnx (or decoder.onnx) for prompts with previous logits,
  // plus the cached pair when the server lists it in /api/info "decoder_files".
  ensureModel() {
    if (!this.modelReady) {
      this.modelReady = (async () => {
        const files = this.decoderFiles ?? {};
        const { bytes, multimask } = await api.getDecoderModel(files.decoder_lowres ?? '/api/decoder.onnx');
        const models = { decoder: bytes };
        if (files.decoder_prep && files.decoder_cached) {
          [models.prep, models.cached] = await Promise.all(
            [files.decoder_prep, files.decoder_cached].map(async (url) => (await api.getDecoderModel(url)).bytes));
        }
        this.loadInfo = await this.call('load', {
          models,
          multimask,
          frame: this.modelInfo.image_size,
          lowRes: this.modelInfo.low_res_size,
          embeddingShape: this.modelInfo.embedding_shape,
          threads: this.threads,
          spin: this.spin,
        }, Object.values(models));
        return this.loadInfo;
      })();
      this.modelReady.catch(() => { this.modelReady = null; });
    }
    return this.modelReady;
  }

  // Resolves once the worker holds `imageId`'s embedding (fetching it waits for the server's encoder).
  ensureImage(imageId) {
    if (!this.images.has(imageId)) {
      const ready = (async () => {
        const [embedding] = await Promise.all([api.getEmbedding(imageId), this.ensureModel()]);
        await this.call('image', {
          imageId,
          embedding: embedding.data,
          shape: embedding.shape,
          inputSize: embedding.inputSize,
          originalSize: embedding.originalSize,
        }, [embedding.data.buffer]);
      })();
      ready.catch(() => this.images.delete(imageId));
      this.images.set(imageId, ready);
      while (this.images.size > MAX_IMAGES) this.images.delete(this.images.keys().next().value);
    }
    return this.images.get(imageId);
  }

  // prompt: {points, labels, box}; previous: {ref, index} | null; want: 'best' | 'all'
  // -> {ref, scores, best, masks: {index: mask}} with masks {width, height, data} at the original size
  async decode(imageId, prompt, previous, multimask, want) {
    await this.ensureImage(imageId);
    return this.call('decode', { imageId, ...prompt, previous, multimask, want });
  }
}

// SAM's mask post-processing on low-res logits, for browser decoding: bilinear (align_corners=False) from
// L x L to the S x S model frame, crop to the resized image (H' x W'), bilinear to the original H x W,
// threshold at 0. Both resizes are separable linear maps, so each output row (column) is a weighted sum of at
// most 4 low-res rows (columns): the weights are composed once per image and applied as two 1-D passes.

// Weights of a 1-D align_corners=False bilinear resize from `inSize` to `outSize` samples (as torch/OpenCV):
// output o reads input (o + 0.5) * inSize / outSize - 0.5, clamped to the first sample.
function linearTaps(inSize, outSize, o) {
  const source = Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0);
  const i0 = Math.min(Math.floor(source), inSize - 1);
  const i1 = Math.min(i0 + 1, inSize - 1);
  const w1 = source - i0;
  return [i0, i1, 1 - w1, w1];
}

// For each of `outSize` outputs: 4 low-res indices and weights (low-res L -> frame S, keep [0, cropSize),
// -> outSize). Returned as flat typed arrays of length 4 * outSize.
export function composedTaps(lowRes, frame, cropSize, outSize) {
  const index = new Int32Array(4 * outSize);
  const weight = new Float32Array(4 * outSize);
  for (let o = 0; o < outSize; o++) {
    const [c0, c1, cw0, cw1] = linearTaps(cropSize, outSize, o); // original -> cropped frame
    const [a0, a1, aw0, aw1] = linearTaps(lowRes, frame, c0); // cropped frame sample c0 -> low res
    const [b0, b1, bw0, bw1] = linearTaps(lowRes, frame, c1);
    index.set([a0, a1, b0, b1], 4 * o);
    weight.set([cw0 * aw0, cw0 * aw1, cw1 * bw0, cw1 * bw1], 4 * o);
  }
  return { index, weight };
}

// Taps of both axes for one image: (H, W) original, (Hr, Wr) resized input, S model frame, L low-res size.
export function upsamplePlan(originalSize, inputSize, frame, lowRes) {
  return {
    height: originalSize[0],
    width: originalSize[1],
    lowRes,
    rows: composedTaps(lowRes, frame, inputSize[0], originalSize[0]),
    cols: composedTaps(lowRes, frame, inputSize[1], originalSize[1]),
  };
}

// logits: Float32Array L*L (row-major) -> {width, height, data: Uint8Array} with logits > 0 as 1.
export function upsampleMask(plan, logits, scratch = null) {
  const { height, width, lowRes, rows, cols } = plan;
  // Pass 1: every low-res row resampled to the output width (L x W).
  const wide = scratch && scratch.length >= lowRes * width ? scratch : new Float32Array(lowRes * width);
  for (let r = 0; r < lowRes; r++) {
    const rowBase = r * lowRes;
    const outBase = r * width;
    for (let x = 0; x < width; x++) {
      const t = 4 * x;
      wide[outBase + x] =
        cols.weight[t] * logits[rowBase + cols.index[t]] +
        cols.weight[t + 1] * logits[rowBase + cols.index[t + 1]] +
        cols.weight[t + 2] * logits[rowBase + cols.index[t + 2]] +
        cols.weight[t + 3] * logits[rowBase + cols.index[t + 3]];
    }
  }
  // Pass 2: each output row from up to 4 of those rows, thresholded.
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const t = 4 * y;
    const r0 = rows.index[t] * width;
    const r1 = rows.index[t + 1] * width;
    const r2 = rows.index[t + 2] * width;
    const r3 = rows.index[t + 3] * width;
    const w0 = rows.weight[t];
    const w1 = rows.weight[t + 1];
    const w2 = rows.weight[t + 2];
    const w3 = rows.weight[t + 3];
    const outBase = y * width;
    for (let x = 0; x < width; x++) {
      const value = w0 * wide[r0 + x] + w1 * wide[r1 + x] + w2 * wide[r2 + x] + w3 * wide[r3 + x];
      data[outBase + x] = value > 0 ? 1 : 0;
    }
  }
  return { width, height, data };
}

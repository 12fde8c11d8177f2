// The "everything" result as one coloured layer plus a label map for clicks: 100+ masks are painted into one
// RGBA buffer (largest first, so small parts stay visible on top of the wholes that contain them).

import { paletteColour } from './mask_paint.js';
import { fillRle, rleArea } from './rle.js';

export class EverythingLayer {
  // masks: the job result's [{size, counts, bbox, area, predicted_iou, stability_score}]
  constructor(width, height, masks) {
    this.width = width;
    this.height = height;
    this.masks = masks;
    this.image = new ImageData(width, height);
    this.hits = new Int32Array(width * height).fill(-1); // pixel -> index of the topmost mask, -1 none
    const pixels = new Uint32Array(this.image.data.buffer);
    const order = masks.map((m, i) => [m.area ?? rleArea(m), i]).sort((a, b) => b[0] - a[0]);
    for (const [, i] of order) {
      fillRle(pixels, width, masks[i], paletteColour(i, 130), this.hits, i);
    }
  }

  // Index of the mask drawn at original pixel (x, y), or -1.
  maskAt(x, y) {
    const col = Math.floor(x);
    const row = Math.floor(y);
    if (col < 0 || row < 0 || col >= this.width || row >= this.height) return -1;
    return this.hits[row * this.width + col];
  }
}

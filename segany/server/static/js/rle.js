// Binary masks and COCO's uncompressed RLE, as the server sends them.
//
// A mask here is {width, height, data}: data is a Uint8Array of width*height, row-major, 1 = foreground.
// RLE is {size: [H, W], counts: [...]}: column-major (Fortran) order, runs alternate starting with a background
// run (which may be 0 long), as pycocotools' uncompressed RLE.

// Writes `value` into `target` (a typed array of width*height, row-major) at the RLE's foreground pixels, and
// `hitValue` into `hits` (an optional second array, e.g. a label map) at the same pixels.
export function fillRle(target, width, rle, value, hits = null, hitValue = 0) {
  const height = rle.size[0];
  let position = 0; // index in column-major order: x * height + y
  let foreground = false;
  for (const run of rle.counts) {
    if (foreground) {
      let x = Math.floor(position / height);
      let y = position - x * height;
      for (let k = 0; k < run; k++) {
        const i = y * width + x;
        target[i] = value;
        if (hits) hits[i] = hitValue;
        y += 1;
        if (y === height) { y = 0; x += 1; }
      }
    }
    position += run;
    foreground = !foreground;
  }
  return position;
}

export function rleToMask(rle) {
  const [height, width] = rle.size;
  const data = new Uint8Array(width * height);
  const covered = fillRle(data, width, rle, 1);
  if (covered !== width * height) {
    throw new Error(`RLE covers ${covered} pixels, expected ${height} x ${width} = ${width * height}`);
  }
  return { width, height, data };
}

export function maskToRle(mask) {
  const { width, height, data } = mask;
  const counts = [];
  let current = 0; // value of the run being counted; runs start with background
  let length = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const value = data[y * width + x];
      if (value === current) {
        length += 1;
      } else {
        counts.push(length);
        current = value;
        length = 1;
      }
    }
  }
  counts.push(length);
  return { size: [height, width], counts };
}

export function maskArea(mask) {
  let area = 0;
  for (let i = 0; i < mask.data.length; i++) area += mask.data[i];
  return area;
}

export function rleArea(rle) {
  let area = 0;
  for (let i = 1; i < rle.counts.length; i += 2) area += rle.counts[i];
  return area;
}

// Intersection over union of two masks of the same size (1 when both are empty).
export function maskIoU(a, b) {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`masks differ in size: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.data.length; i++) {
    inter += a.data[i] & b.data[i];
    union += a.data[i] | b.data[i];
  }
  return union === 0 ? 1 : inter / union;
}

// Painting masks into RGBA pixel buffers (one canvas per layer, never one DOM image per mask).
// Colours are packed as the Uint32 view of ImageData sees them on little-endian machines: 0xAABBGGRR.

export function packColour(r, g, b, a) {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

// A fixed, well-spread palette (golden-angle hues), so object i keeps its colour across redraws.
export function paletteColour(i, alpha = 150) {
  const hue = (i * 137.508) % 360;
  const [r, g, b] = hslToRgb(hue / 360, 0.75, 0.55);
  return packColour(r, g, b, alpha);
}

export function paletteCss(i) {
  const hue = (i * 137.508) % 360;
  return `hsl(${hue.toFixed(1)} 75% 55%)`;
}

function hslToRgb(h, s, l) {
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const channel = (t) => {
    const u = t < 0 ? t + 1 : t > 1 ? t - 1 : t;
    if (u < 1 / 6) return p + (q - p) * 6 * u;
    if (u < 1 / 2) return q;
    if (u < 2 / 3) return p + (q - p) * (2 / 3 - u) * 6;
    return p;
  };
  return [channel(h + 1 / 3), channel(h), channel(h - 1 / 3)].map((v) => Math.round(v * 255));
}

// Fills `pixels` (Uint32Array of width*height) with `fill` inside the mask and `edge` on its boundary
// (4-neighbourhood), leaving other pixels untouched. Returns the mask's bounding box {x0, y0, x1, y1}
// (exclusive ends; null when the mask is empty), so a caller can repaint only that rectangle.
export function paintMask(pixels, mask, fill, edge) {
  const { width, height, data } = mask;
  let x0 = width;
  let y0 = height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const top = y === 0;
    const bottom = y === height - 1;
    let rowFirst = -1;
    let rowLast = -1;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (!data[i]) continue;
      if (rowFirst < 0) rowFirst = x;
      rowLast = x;
      const onEdge = top || bottom || x === 0 || x === width - 1 ||
        !data[i - 1] || !data[i + 1] || !data[i - width] || !data[i + width];
      pixels[i] = onEdge ? edge : fill;
    }
    if (rowFirst >= 0) {
      if (rowFirst < x0) x0 = rowFirst;
      if (rowLast + 1 > x1) x1 = rowLast + 1;
      if (y < y0) y0 = y;
      y1 = y + 1;
    }
  }
  return x1 > x0 ? { x0, y0, x1, y1 } : null;
}

// Small SVG charts (no library): grouped bars with labelled values, as the dashboard draws seconds and clicks
// per mask by model version (the paper's 34 s -> 14 s) and per-image mask counts.

const NS = 'http://www.w3.org/2000/svg';
export const SERIES_COLOURS = ['#3b82f6', '#f59e0b', '#22c55e', '#ef4444', '#a855f7'];

function node(tag, attributes = {}, text = null) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== null) element.textContent = text;
  return element;
}

// groups: [label]; series: [{name, values: [number | null] (one per group)}]; format(value) -> text
export function groupedBars(groups, series, { width = 560, height = 240, yLabel = '', format = (v) => v.toFixed(1) } = {}) {
  const svg = node('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart', role: 'img' });
  const left = 48;
  const bottom = 46;
  const top = 24;
  const plotW = width - left - 10;
  const plotH = height - top - bottom;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && Number.isFinite(v));
  const max = Math.max(1e-9, ...all) * 1.15;
  const ticks = 4;
  for (let k = 0; k <= ticks; k++) {
    const y = top + plotH - (plotH * k) / ticks;
    svg.append(node('line', { x1: left, x2: left + plotW, y1: y, y2: y, class: 'grid' }));
    svg.append(node('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, format((max * k) / ticks)));
  }
  svg.append(node('text', { x: 12, y: top + plotH / 2, transform: `rotate(-90 12 ${top + plotH / 2})`,
    'text-anchor': 'middle', class: 'axis' }, yLabel));
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.min(46, (groupW * 0.8) / Math.max(1, series.length));
  groups.forEach((group, g) => {
    const x0 = left + g * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, k) => {
      const value = s.values[g];
      if (value === null || !Number.isFinite(value)) return;
      const h = (plotH * value) / max;
      const x = x0 + k * barW;
      svg.append(node('rect', { x, y: top + plotH - h, width: barW - 3, height: h,
        fill: SERIES_COLOURS[k % SERIES_COLOURS.length], 'data-series': s.name, 'data-group': group,
        'data-value': value }));
      svg.append(node('text', { x: x + (barW - 3) / 2, y: top + plotH - h - 4, 'text-anchor': 'middle',
        class: 'value' }, format(value)));
    });
    svg.append(node('text', { x: left + g * groupW + groupW / 2, y: top + plotH + 16, 'text-anchor': 'middle',
      class: 'tick' }, group));
  });
  series.forEach((s, k) => {
    const x = left + k * 150;
    svg.append(node('rect', { x, y: height - 16, width: 10, height: 10, fill: SERIES_COLOURS[k % SERIES_COLOURS.length] }));
    svg.append(node('text', { x: x + 14, y: height - 7, class: 'tick' }, s.name));
  });
  return svg;
}

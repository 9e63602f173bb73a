// A two-panel SVG line chart written by hand (no plotting dependency): left,
// delivered throughput vs offered load; right, p99 RTT vs offered load; one
// line per gateway. Pure: data in, SVG text out.

export interface LoadPoint {
  offeredMbit: number;
  deliveredMbit: number;
  p99Ms: number;
}

export interface LoadSeries {
  name: string;
  points: LoadPoint[];
}

const PANEL_W = 420;
const PANEL_H = 300;
const MARGIN = { left: 60, right: 20, top: 40, bottom: 50 };
const TICKS = 5;
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd'];
/** Beyond any Mbit/s or ms a bench produces: such a value is a bug upstream and is left out, not drawn. */
const MAX_PLOTTABLE = 1e12;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Below this an axis is not worth scaling (and 10^n would underflow to 0). */
const MIN_AXIS = 1e-9;

/** A "nice" upper bound (1, 2 or 5 × 10^n) at or above v; 1 for nothing to show. */
export function niceMax(v: number): number {
  if (!Number.isFinite(v) || v <= MIN_AXIS) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

function fmtTick(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(2);
}

function panel(x0: number, title: string, yLabel: string, series: LoadSeries[], y: (p: LoadPoint) => number): string {
  const finite = (n: number) => Number.isFinite(n) && Math.abs(n) <= MAX_PLOTTABLE;
  const xs = series.flatMap((s) => s.points.map((p) => p.offeredMbit)).filter(finite);
  const ys = series.flatMap((s) => s.points.map(y)).filter(finite);
  const xMax = niceMax(Math.max(0, ...xs));
  const yMax = niceMax(Math.max(0, ...ys));
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const px = (v: number) => x0 + MARGIN.left + (Math.max(0, v) / xMax) * w;
  const py = (v: number) => MARGIN.top + h - (Math.max(0, Math.min(v, yMax)) / yMax) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + PANEL_W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${x0 + MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= TICKS; i++) {
    const xv = (xMax * i) / TICKS;
    const yv = (yMax * i) / TICKS;
    out.push(`<text x="${px(xv).toFixed(1)}" y="${MARGIN.top + h + 16}" text-anchor="middle" font-size="11">${fmtTick(xv)}</text>`);
    out.push(`<text x="${x0 + MARGIN.left - 6}" y="${(py(yv) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmtTick(yv)}</text>`);
    out.push(`<line x1="${x0 + MARGIN.left}" x2="${x0 + MARGIN.left + w}" y1="${py(yv).toFixed(1)}" y2="${py(yv).toFixed(1)}" stroke="#eee"/>`);
  }
  out.push(`<text x="${x0 + MARGIN.left + w / 2}" y="${PANEL_H - 10}" text-anchor="middle" font-size="12">offered load (Mbit/s)</text>`);
  out.push(`<text x="${x0 + 14}" y="${MARGIN.top + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 14} ${MARGIN.top + h / 2})">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter((p) => finite(p.offeredMbit) && finite(y(p))).sort((a, b) => a.offeredMbit - b.offeredMbit);
    if (pts.length > 0) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p.offeredMbit).toFixed(1)},${py(y(p)).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.offeredMbit).toFixed(1)}" cy="${py(y(p)).toFixed(1)}" r="3" fill="${color}"/>`);
    out.push(`<text x="${x0 + MARGIN.left + 8}" y="${MARGIN.top + 16 + i * 16}" font-size="12" fill="${color}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

export function renderLoadPlot(title: string, series: LoadSeries[]): string {
  const width = 2 * PANEL_W;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_H + 20}" viewBox="0 0 ${width} ${PANEL_H + 20}" font-family="sans-serif">`,
    `<title>${esc(title)}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    panel(0, 'delivered throughput', 'Mbit/s', series, (p) => p.deliveredMbit),
    panel(PANEL_W, 'p99 RTT through the tunnel', 'ms', series, (p) => p.p99Ms),
    `<text x="${width / 2}" y="${PANEL_H + 14}" text-anchor="middle" font-size="11" fill="#555">${esc(title)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

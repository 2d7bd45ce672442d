/**
 * The benchmarks' plots: line charts in plain SVG text, no dependencies, no network. A plot is
 * one or more panels side by side, each with its own y axis (linear from 0) and an x axis that
 * is logarithmic or linear, its ticks at the measured x values.
 */

/** One line of a panel: its points `[x, y]`. */
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface XAxis {
  readonly scale: 'log' | 'linear';
  /** Where the ticks go (the measured x values). */
  readonly ticks: readonly number[];
  /** Under the axis, e.g. "customers (log scale)". */
  readonly label: string;
  readonly format?: (x: number) => string;
}

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly x: XAxis;
  readonly series: readonly Series[];
}

/** A panel's plot area (px); panels sit at x = 80, 530, … */
const PANEL = { w: 360, h: 250, top: 70 };
const LEFT = 80;
const PANEL_PITCH = 450;

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" upper bound and step for a linear axis from 0. */
function niceScale(max: number): { top: number; step: number } {
  const raw = Math.max(max, 1e-9) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step || step, step };
}

const whole = (v: number) => Math.round(v).toLocaleString('en-US');

function panel(left: number, p: Panel): string {
  const { w, h, top } = PANEL;
  const { series } = p;
  const t = p.x.scale === 'log' ? Math.log10 : (v: number) => v;
  const ts = p.x.ticks.map(t);
  const pad = p.x.scale === 'log' ? 0.15 : (Math.max(...ts) - Math.min(...ts) || 1) * 0.08;
  const xMin = Math.min(...ts) - pad;
  const xMax = Math.max(...ts) + pad;
  const x = (v: number) => left + ((t(v) - xMin) / (xMax - xMin)) * w;
  const { top: yTop, step } = niceScale(Math.max(...series.flatMap((s) => s.points.map(([, v]) => v))));
  const y = (v: number) => top + h - (v / yTop) * h;
  const fmtX = p.x.format ?? whole;
  const out: string[] = [];
  out.push(`<text x="${left}" y="${top - 28}" class="title">${esc(p.title)}</text>`);
  out.push(`<text x="${left}" y="${top - 12}" class="unit">${esc(p.unit)}</text>`);
  for (let v = 0; v <= yTop + step / 2; v += step) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${whole(v)}</text>`);
  }
  for (const s of p.x.ticks) {
    out.push(`<line x1="${x(s)}" x2="${x(s)}" y1="${top}" y2="${top + h}" class="grid"/>`);
    out.push(
      `<text x="${x(s)}" y="${top + h + 16}" class="tick" text-anchor="middle">${esc(fmtX(s))}</text>`,
    );
  }
  out.push(
    `<text x="${left + w / 2}" y="${top + h + 34}" class="tick" text-anchor="middle">${esc(p.x.label)}</text>`,
  );
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" class="frame"/>`);
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points
      .map(([sz, v], j) => `${j ? 'L' : 'M'}${x(sz).toFixed(1)},${y(v).toFixed(1)}`)
      .join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const [sz, v] of s.points) {
      out.push(`<circle cx="${x(sz).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
      out.push(
        `<text x="${(x(sz) + 6).toFixed(1)}" y="${(y(v) - 6).toFixed(1)}" class="value" fill="${s.color}">${whole(v)}</text>`,
      );
    }
    const ly = top + h + 52 + i * 16;
    out.push(
      `<line x1="${left}" x2="${left + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${left + 30}" y="${ly}" class="legend">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

/** The SVG text of a plot: a heading, a subheading (what was run) and its panels side by side. */
export function plotDocument(plot: {
  /** The SVG's `<title>`, for screen readers and hover. */
  readonly title: string;
  readonly heading: string;
  readonly subheading: string;
  readonly panels: readonly Panel[];
  /** @default 420 */
  readonly height?: number;
}): string {
  const width = LEFT + (plot.panels.length - 1) * PANEL_PITCH + PANEL.w + 10;
  const height = plot.height ?? 420;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${esc(plot.title)}</title>`,
    '<style>.title{font-size:15px;font-weight:bold}.unit,.tick,.legend{font-size:12px;fill:#333}.value{font-size:11px}.grid{stroke:#ddd}.frame{fill:none;stroke:#888}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" class="title">${esc(plot.heading)}</text>`,
    `<text x="${LEFT}" y="38" class="unit">${esc(plot.subheading)}</text>`,
    ...plot.panels.map((p, i) => panel(LEFT + i * PANEL_PITCH, p)),
    '</svg>',
    '',
  ].join('\n');
}

// The report's chart as a standalone SVG: grouped vertical bars, one group per language, one bar
// per series, in percent on a 0-based axis; published numbers (from reference files) as extra bars
// drawn hatched and named "published" in the legend, so they cannot be mistaken for ours.
import { published, type Chart, type Reference } from "./report.ts";

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"];
const BAR = 9;
const GAP = 8;
const PLOT_H = 220;
const LEFT = 52;
const TOP = 48;

interface Bars {
  label: string;
  values: (number | null)[];
  color: string;
  published: boolean;
}

export function renderSvg(chart: Chart, refs: readonly Reference[] = []): string {
  const bars: Bars[] = [];
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    bars.push({
      label: s.label,
      values: s.values.map((v) => (v === null ? null : 100 * v)),
      color,
      published: false,
    });
    for (const ref of refs) {
      const values = chart.categories.map((c) => published(ref, chart.table, c, s.key) ?? null);
      if (values.some((v) => v !== null))
        bars.push({ label: `${s.label} — published: ${ref.name}`, values, color, published: true });
    }
  });
  const all = bars.flatMap((b) => b.values).filter((v): v is number => v !== null);
  const top = niceMax(Math.max(1, ...all));
  const group = bars.length * BAR + GAP;
  // Wide enough for the bars, the legend and the title (about 6.5 px per character at 11 px).
  const text = Math.max(chart.title.length * 8, ...bars.map((b) => 18 + b.label.length * 6.5));
  const width = Math.ceil(
    Math.max(LEFT + Math.max(1, chart.categories.length) * group + 20, LEFT + text + 20),
  );
  const legendH = 16 * bars.length;
  // Category labels run down-left at 45 degrees: room for the longest.
  const labelH = 16 + Math.ceil(Math.max(2, ...chart.categories.map((c) => c.length)) * 4.5);
  const height = TOP + legendH + PLOT_H + labelH;
  const y0 = TOP + legendH + PLOT_H; // the axis line
  const y = (v: number) => y0 - (v / top) * PLOT_H;

  const el: string[] = [];
  el.push(`<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${esc(chart.title)}</text>`);
  bars.forEach((b, i) => {
    const ly = TOP - 16 + 16 * i;
    el.push(`<rect x="${LEFT}" y="${ly}" width="12" height="10" ${fill(b)}/>`);
    el.push(`<text x="${LEFT + 18}" y="${ly + 9}" font-size="11">${esc(b.label)}</text>`);
  });
  for (let i = 0; i <= 5; i++) {
    const v = (top * i) / 5;
    el.push(`<line x1="${LEFT}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    el.push(`<text x="${LEFT - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${fmt(v)}</text>`);
  }
  const mid = TOP + legendH + PLOT_H / 2;
  el.push(
    `<text x="14" y="${mid}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${mid})">${esc(chart.axis)}</text>`,
  );
  chart.categories.forEach((c, ci) => {
    const gx = LEFT + ci * group + GAP / 2;
    bars.forEach((b, bi) => {
      const v = b.values[ci];
      if (v === null) return;
      const h = Math.max(0, y0 - y(v));
      const title = `${c} · ${b.label}: ${v.toFixed(1)}`;
      el.push(
        `<rect x="${gx + bi * BAR}" y="${y0 - h}" width="${BAR - 1}" height="${h}" ${fill(b)}><title>${esc(title)}</title></rect>`,
      );
    });
    const lx = gx + (bars.length * BAR) / 2;
    el.push(
      `<text x="${lx}" y="${y0 + 12}" font-size="10" text-anchor="end" transform="rotate(-45 ${lx} ${y0 + 12})">${esc(c)}</text>`,
    );
  });
  el.push(`<line x1="${LEFT}" x2="${width - 10}" y1="${y0}" y2="${y0}" stroke="#333"/>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<defs><pattern id="published" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="2" height="4" fill="#888"/></pattern></defs>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...el,
    `</svg>`,
    "",
  ].join("\n");
}

/** Ours: solid; published: hatched with our series' colour as outline. */
const fill = (b: Bars) =>
  b.published ? `fill="url(#published)" stroke="${b.color}" stroke-width="1"` : `fill="${b.color}"`;

/** The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above the largest value. */
function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

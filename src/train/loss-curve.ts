// The loss curve as a small standalone SVG: training loss per step (log scale) and held-out
// evaluation points, so a run can be watched in a browser without any plotting stack.

export interface CurvePoint {
  step: number;
  value: number;
}

export interface CurveLabels {
  title: string;
  trainLabel: string;
  evalLabel?: string;
}

export function lossCurveSvg(train: CurvePoint[], evals: CurvePoint[], labels: CurveLabels): string {
  const W = 640;
  const H = 360;
  const pad = { l: 60, r: 20, t: 30, b: 40 };
  const all = [...train, ...evals].filter((p) => p.value > 0 && Number.isFinite(p.value));
  const maxStep = Math.max(1, ...all.map((p) => p.step));
  const lo = Math.log10(Math.min(...all.map((p) => p.value), 1));
  const hi = Math.log10(Math.max(...all.map((p) => p.value), 1e-12));
  const span = hi - lo || 1;
  const x = (s: number) => pad.l + (s / maxStep) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (Math.log10(v) - lo) / span) * (H - pad.t - pad.b);
  const line = train
    .filter((p) => p.value > 0)
    .map((p) => `${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`)
    .join(" ");
  const dots = evals
    .filter((p) => p.value > 0)
    .map((p) => `<circle cx="${x(p.step).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3" fill="#d62728"/>`)
    .join("");
  const ticks = [lo, (lo + hi) / 2, hi]
    .map(
      (t) =>
        `<text x="${pad.l - 6}" y="${y(10 ** t).toFixed(1)}" text-anchor="end" font-size="11">${(10 ** t).toPrecision(2)}</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${labels.title}</text>
<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#444"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#444"/>
<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">step (last ${maxStep})</text>
${ticks}
<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${line}"/>
${dots}
<text x="${W - pad.r}" y="${pad.t + 12}" text-anchor="end" font-size="11" fill="#1f77b4">${labels.trainLabel}</text>
<text x="${W - pad.r}" y="${pad.t + 26}" text-anchor="end" font-size="11" fill="#d62728">${labels.evalLabel ?? ""}</text>
</svg>
`;
}

// Per-language sample weights for weighted InfoNCE (L = sum_i w_i L_i / sum_j w_j). Four ways to
// get them:
//   table              --lang-weights sw=2,te=2 (languages not named: 1)
//   low-resource       --low-resource bn,sw,te,th --low-resource-weight 2: the paper's setting
//   inverse-frequency  w_l = 1 / (L * share_l) over the L languages of the training set: mean 1
//                      over samples, and every language carries the same total weight
//   loss-based         the paper's future work: each language's weight follows its running mean
//                      loss. Rule: after every step, m_l <- 0.9 m_l + 0.1 (mean loss of l's samples
//                      in the step) for each language seen (m_l starts at its first mean); then
//                      w_l = clamp(m_l / mean_over_languages(m), 1/maxRatio, maxRatio), maxRatio 2.
//                      Languages not seen yet weigh 1. Harder languages weigh more, boundedly.
// Languages are NLLB-200 codes (aliases resolved); samples without a language are "und".

import { resolveNllbLang } from "../text/nllb-langs.ts";

export type Weighting =
  | { kind: "table"; table: Record<string, number> }
  | { kind: "inverse-frequency" }
  | { kind: "loss-based"; maxRatio?: number };

/** `sw=2,te=2` -> {swh_Latn: 2, tel_Telu: 2}; each weight a number > 0. */
export function parseLangWeights(s: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of s.split(",").filter((p) => p.trim())) {
    const m = /^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$/.exec(part);
    const w = m ? Number(m[2]) : NaN;
    if (!m || !(w > 0) || !Number.isFinite(w))
      throw new Error(`--lang-weights "${part}" is not LANG=WEIGHT with a weight > 0 (e.g. sw=2,te=2)`);
    out[resolveNllbLang(m[1])] = w;
  }
  return out;
}

/** --low-resource bn,sw --low-resource-weight 2 as a table. */
export function lowResourceTable(langs: readonly string[], weight: number): Record<string, number> {
  if (!(weight > 0)) throw new Error(`--low-resource-weight must be > 0, got ${weight}`);
  return Object.fromEntries(langs.map((l) => [resolveNllbLang(l), weight]));
}

export class LangWeights {
  private running: Record<string, number> = {};
  private fixed: Record<string, number>;

  constructor(
    readonly weighting: Weighting,
    trainLangs: readonly string[],
  ) {
    if (weighting.kind === "table") this.fixed = { ...weighting.table };
    else if (weighting.kind === "inverse-frequency") {
      const counts: Record<string, number> = {};
      for (const l of trainLangs) counts[l] = (counts[l] ?? 0) + 1;
      const L = Object.keys(counts).length;
      this.fixed = Object.fromEntries(
        Object.entries(counts).map(([l, n]) => [l, 1 / (L * (n / trainLangs.length))]),
      );
    } else this.fixed = {};
  }

  weight(lang: string): number {
    if (this.weighting.kind !== "loss-based") return this.fixed[lang] ?? 1;
    const m = this.running[lang];
    const seen = Object.values(this.running);
    if (m === undefined || !seen.length) return 1;
    const mean = seen.reduce((a, b) => a + b, 0) / seen.length;
    const r = this.weighting.maxRatio ?? 2;
    return mean > 0 ? Math.min(r, Math.max(1 / r, m / mean)) : 1;
  }

  /** Loss-based weights follow the per-sample losses of a step; other kinds ignore them. */
  update(langs: readonly string[], perSample: ArrayLike<number>): void {
    if (this.weighting.kind !== "loss-based") return;
    const sums: Record<string, [number, number]> = {};
    langs.forEach((l, i) => {
      const s = (sums[l] ??= [0, 0]);
      s[0] += perSample[i];
      s[1] += 1;
    });
    for (const [l, [sum, n]] of Object.entries(sums)) {
      const mean = sum / n;
      const prev = this.running[l];
      this.running[l] = prev === undefined ? mean : 0.9 * prev + 0.1 * mean;
    }
  }

  /** The weight of every language in `langs` (and of any named in a table), for printing and saving. */
  table(langs: readonly string[]): Record<string, number> {
    const all = [...new Set([...langs, ...Object.keys(this.fixed)])].sort();
    return Object.fromEntries(all.map((l) => [l, this.weight(l)]));
  }

  get state(): Record<string, number> {
    return { ...this.running };
  }

  set state(s: Record<string, number>) {
    this.running = { ...s };
  }
}

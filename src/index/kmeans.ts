// Spherical k-means over unit rows (ColBERT token vectors), for the multi-vector index's coarse
// quantizer. Plain Float32Array row-major matrices; deterministic for a given seed.
//
// Why spherical: ColBERT vectors are unit rows scored by dot product, so the centroid that matters
// for a token is the one with the largest dot product, and centroids are renormalized after each
// update (ColBERTv2 normalizes faiss' centroids once at the end; normalizing every step keeps
// assignment and the final centroids consistent).

import { Rng } from "../models/random.ts";

/** How many point rows the assignment kernel scores against all centroids at once. */
const BLOCK = 4;

/**
 * For each of the `n` rows of `points` ([n, dim]), the index of the row of `centroids` ([k, dim])
 * with the largest dot product (first one on ties) into `assign`, and that dot product into
 * `best` when given. Four points at a time share each centroid row load, which roughly doubles
 * the throughput of the plain double loop in V8.
 */
export function assignNearest(
  points: Float32Array,
  n: number,
  dim: number,
  centroids: Float32Array,
  k: number,
  assign: Uint32Array,
  best?: Float32Array,
): void {
  let i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    const p0 = i * dim;
    const p1 = p0 + dim;
    const p2 = p1 + dim;
    const p3 = p2 + dim;
    let b0 = -Infinity,
      b1 = -Infinity,
      b2 = -Infinity,
      b3 = -Infinity;
    let a0 = 0,
      a1 = 0,
      a2 = 0,
      a3 = 0;
    for (let c = 0; c < k; c++) {
      const co = c * dim;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let d = 0; d < dim; d++) {
        const w = centroids[co + d];
        s0 += points[p0 + d] * w;
        s1 += points[p1 + d] * w;
        s2 += points[p2 + d] * w;
        s3 += points[p3 + d] * w;
      }
      if (s0 > b0) {
        b0 = s0;
        a0 = c;
      }
      if (s1 > b1) {
        b1 = s1;
        a1 = c;
      }
      if (s2 > b2) {
        b2 = s2;
        a2 = c;
      }
      if (s3 > b3) {
        b3 = s3;
        a3 = c;
      }
    }
    assign[i] = a0;
    assign[i + 1] = a1;
    assign[i + 2] = a2;
    assign[i + 3] = a3;
    if (best) {
      best[i] = b0;
      best[i + 1] = b1;
      best[i + 2] = b2;
      best[i + 3] = b3;
    }
  }
  for (; i < n; i++) {
    const p = i * dim;
    let b = -Infinity;
    let a = 0;
    for (let c = 0; c < k; c++) {
      const co = c * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += points[p + d] * centroids[co + d];
      if (s > b) {
        b = s;
        a = c;
      }
    }
    assign[i] = a;
    if (best) best[i] = b;
  }
}

/** Scales each of the `rows` rows of `m` ([rows, dim]) to unit length in place (zero rows stay). */
export function normalizeRows(m: Float32Array, rows: number, dim: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += m[r * dim + d] ** 2;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) m[r * dim + d] *= inv;
  }
}

export interface KmeansOptions {
  /** Lloyd iterations (default 4: a few are enough for a coarse quantizer; residuals fix the rest). */
  iters?: number;
  /**
   * Rows trained on, drawn without replacement (default max(16 k, 4096), at most n): about as much
   * work over all iterations as assigning every row once afterwards.
   */
  sample?: number;
  seed?: number;
}

/**
 * `k` unit centroids ([k, dim]) of the rows of `points` ([n, dim]): initialized from distinct
 * sampled rows, then `iters` Lloyd steps on the sample. A cluster that empties is re-seeded with
 * the sampled row its centroid fits worst, so all `k` ids stay in use.
 */
export function sphericalKmeans(
  points: Float32Array,
  n: number,
  dim: number,
  k: number,
  opts: KmeansOptions = {},
): Float32Array {
  if (n === 0) throw new Error("k-means: no vectors to cluster");
  if (!Number.isInteger(k) || k < 1) throw new Error(`k-means: k must be a positive integer, got ${k}`);
  k = Math.min(k, n);
  const iters = opts.iters ?? 4;
  const rng = new Rng(opts.seed ?? 0);
  const m = Math.min(n, Math.max(opts.sample ?? Math.max(k * 16, 4096), k));
  // a deterministic sample without replacement (partial Fisher-Yates over row indices)
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng.next() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  const sample = new Float32Array(m * dim);
  for (let i = 0; i < m; i++) sample.set(points.subarray(idx[i] * dim, (idx[i] + 1) * dim), i * dim);

  const centroids = sample.slice(0, k * dim); // the first k sampled rows: already a random choice
  normalizeRows(centroids, k, dim);
  const assign = new Uint32Array(m);
  const best = new Float32Array(m);
  const sums = new Float64Array(k * dim);
  const counts = new Uint32Array(k);
  for (let it = 0; it < iters; it++) {
    assignNearest(sample, m, dim, centroids, k, assign, best);
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < m; i++) {
      const c = assign[i];
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += sample[i * dim + d];
    }
    // worst-fitting rows first, to re-seed empty clusters (ties by row index: deterministic)
    const worst = counts.includes(0)
      ? Array.from({ length: m }, (_, i) => i).sort((a, b) => best[a] - best[b] || a - b)
      : [];
    let w = 0;
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        const r = worst[w++];
        centroids.set(sample.subarray(r * dim, (r + 1) * dim), c * dim);
        continue;
      }
      for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d];
    }
    normalizeRows(centroids, k, dim);
  }
  return centroids;
}

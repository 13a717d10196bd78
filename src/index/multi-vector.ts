// Multi-vector (ColBERT) search over many documents, in the spirit of PLAID (Santhanam et al.,
// 2022) over ColBERTv2's residual compression: everything is plain typed arrays plus dims, so a
// collection can store the index as blobs.
//
// * Documents are one flat token matrix [n, dim] (unit rows) plus `docOffsets` [docs + 1]: the
//   tokens of document d are rows docOffsets[d] .. docOffsets[d + 1].
// * exactMaxSim scores every document: S(q, d) = Σ_i max_j ⟨q_i, d_j⟩ (encode/colbert.ts maxSim).
// * buildPlaidIndex clusters the tokens (spherical k-means, index/kmeans.ts) and keeps each token
//   as its centroid id plus its residual (token − centroid) quantized to 1 or 2 bits per
//   dimension, with bucket cutoffs and bucket values taken from residual quantiles (ColBERTv2;
//   here per dimension, since residual spreads differ between dimensions).
// * Optionally (keepFloat16) the index also keeps float16 copies of the tokens, 2·dim bytes per
//   token more, for a final exact re-score of the best few documents.
// * searchPlaid: each query token probes its `nprobe` nearest centroids; the documents with a
//   token in a probed centroid (an inverted list centroid → documents) are the candidates; they
//   are ranked by PLAID's centroid interaction (MaxSim with every token replaced by its
//   centroid's score, which needs only the centroid ids), and the best `candidates` of them are
//   re-scored by MaxSim over decompressed vectors (centroid + dequantized residual, normalized),
//   computed from per-query lookup tables rather than by decompressing. With float16 copies, the
//   best `rerank` (default 10·k) are then re-scored exactly in float16.
//
// Why the float16 pass: at dim 32 and 2 bits a decompressed token keeps a cosine of ~0.96 to the
// original, so each ⟨q_i, d_j⟩ is off by a few hundredths, while the exact MaxSim scores of ranks
// 10 and 11 are often ~0.01 apart (bench/colbert.bench.ts prints the gaps): 2-bit re-scoring
// orders the candidates well enough to keep nearly all of the true top 10 within its top 100, but
// not within its top 10. With near-tied scores the centroid-interaction cut also loses true top-10
// documents unless it keeps thousands, hence the default of 2048 candidates.

import { assignNearest, normalizeRows, sphericalKmeans } from "./kmeans.ts";

/** Per-token vectors of one text: [tokens, dim] row-major (encode/colbert.ts TokenVectors). */
export interface MultiVectors {
  vectors: Float32Array;
  dims: readonly [number, number];
}

/** Many documents' tokens as one matrix: rows docOffsets[d] .. docOffsets[d + 1] are document d. */
export interface TokenMatrix {
  tokens: Float32Array;
  dims: readonly [number, number];
  docOffsets: Uint32Array;
}

/** Best documents first: their indices and scores. */
export interface Hits {
  ids: Uint32Array;
  scores: Float32Array;
}

/** Concatenates per-document vectors into one TokenMatrix (all must share one dim). */
export function packDocuments(docs: readonly MultiVectors[], dim = docs[0]?.dims[1] ?? 0): TokenMatrix {
  const docOffsets = new Uint32Array(docs.length + 1);
  docs.forEach((d, i) => {
    if (d.dims[1] !== dim) throw new Error(`document ${i} has ${d.dims[1]}-dim vectors, expected ${dim}`);
    if (d.vectors.length !== d.dims[0] * dim)
      throw new Error(`document ${i}: ${d.vectors.length} values for dims [${d.dims.join(", ")}]`);
    docOffsets[i + 1] = docOffsets[i] + d.dims[0];
  });
  const n = docOffsets[docs.length];
  const tokens = new Float32Array(n * dim);
  docs.forEach((d, i) => tokens.set(d.vectors, docOffsets[i] * dim));
  return { tokens, dims: [n, dim], docOffsets };
}

function checkMatrix(m: TokenMatrix, what: string): void {
  const [n, dim] = m.dims;
  if (m.tokens.length !== n * dim)
    throw new Error(`${what}: ${m.tokens.length} values for dims [${n}, ${dim}]`);
  const o = m.docOffsets;
  if (o.length < 1 || o[0] !== 0 || o[o.length - 1] !== n)
    throw new Error(`${what}: docOffsets must start at 0 and end at the token count ${n}`);
  for (let i = 1; i < o.length; i++)
    if (o[i] < o[i - 1]) throw new Error(`${what}: docOffsets must not decrease (at document ${i - 1})`);
}

function checkQuery(q: MultiVectors, dim: number): void {
  if (q.dims[1] !== dim) throw new Error(`query vectors have ${q.dims[1]} dims, documents ${dim}`);
  if (q.vectors.length !== q.dims[0] * dim)
    throw new Error(`query: ${q.vectors.length} values for dims [${q.dims.join(", ")}]`);
}

/**
 * Σ_i max_{j in rows from..to} ⟨q_i, t_j⟩ over the rows `from`..`to` of `tokens`; 0 for no rows
 * (as maxSim). `maxima` is scratch of at least nq entries. Four query rows share each token row
 * load: a document's rows stay in L1 across the passes, and V8 keeps the four sums in registers.
 */
function maxSimRows(
  q: Float32Array,
  nq: number,
  dim: number,
  tokens: Float32Array,
  from: number,
  to: number,
  maxima: Float64Array,
): number {
  if (to <= from) return 0;
  let i = 0;
  for (; i + 4 <= nq; i += 4) {
    const q0 = i * dim;
    const q1 = q0 + dim;
    const q2 = q1 + dim;
    const q3 = q2 + dim;
    let m0 = -Infinity,
      m1 = -Infinity,
      m2 = -Infinity,
      m3 = -Infinity;
    for (let j = from; j < to; j++) {
      const t = j * dim;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let d = 0; d < dim; d++) {
        const x = tokens[t + d];
        s0 += q[q0 + d] * x;
        s1 += q[q1 + d] * x;
        s2 += q[q2 + d] * x;
        s3 += q[q3 + d] * x;
      }
      if (s0 > m0) m0 = s0;
      if (s1 > m1) m1 = s1;
      if (s2 > m2) m2 = s2;
      if (s3 > m3) m3 = s3;
    }
    maxima[i] = m0;
    maxima[i + 1] = m1;
    maxima[i + 2] = m2;
    maxima[i + 3] = m3;
  }
  for (; i < nq; i++) {
    let m = -Infinity;
    for (let j = from; j < to; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += q[i * dim + d] * tokens[j * dim + d];
      if (s > m) m = s;
    }
    maxima[i] = m;
  }
  let s = 0;
  for (let k = 0; k < nq; k++) s += maxima[k];
  return s;
}

/** Exact MaxSim of `query` with every document of `docs`: one score per document. */
export function exactMaxSim(query: MultiVectors, docs: TokenMatrix): Float32Array {
  checkMatrix(docs, "exactMaxSim");
  const dim = docs.dims[1];
  checkQuery(query, dim);
  const nq = query.dims[0];
  const nDocs = docs.docOffsets.length - 1;
  const out = new Float32Array(nDocs);
  const maxima = new Float64Array(nq);
  for (let d = 0; d < nDocs; d++)
    out[d] = maxSimRows(
      query.vectors,
      nq,
      dim,
      docs.tokens,
      docs.docOffsets[d],
      docs.docOffsets[d + 1],
      maxima,
    );
  return out;
}

/**
 * The `k` largest of `scores` (restricted to `ids` when given), best first; ties go to the lower
 * index so results are deterministic. A bounded min-heap: O(n log k).
 */
export function topK(scores: ArrayLike<number>, k: number, ids?: ArrayLike<number>): Hits {
  const n = ids ? ids.length : scores.length;
  k = Math.max(0, Math.min(k, n));
  const hi = new Uint32Array(k);
  const hs = new Float64Array(k);
  let size = 0;
  // "a worse than b": lower score, or equal score and higher index
  const worse = (sa: number, ia: number, sb: number, ib: number) => sa < sb || (sa === sb && ia > ib);
  const siftDown = (p: number) => {
    for (;;) {
      const l = 2 * p + 1;
      if (l >= size) return;
      let c = l;
      if (l + 1 < size && worse(hs[l + 1], hi[l + 1], hs[l], hi[l])) c = l + 1;
      if (!worse(hs[c], hi[c], hs[p], hi[p])) return;
      [hs[c], hs[p]] = [hs[p], hs[c]];
      [hi[c], hi[p]] = [hi[p], hi[c]];
      p = c;
    }
  };
  if (k > 0)
    for (let x = 0; x < n; x++) {
      const id = ids ? ids[x] : x;
      const s = scores[ids ? x : id];
      if (size < k) {
        let c = size++;
        hs[c] = s;
        hi[c] = id;
        while (c > 0) {
          const p = (c - 1) >> 1;
          if (!worse(hs[c], hi[c], hs[p], hi[p])) break;
          [hs[c], hs[p]] = [hs[p], hs[c]];
          [hi[c], hi[p]] = [hi[p], hi[c]];
          c = p;
        }
      } else if (worse(hs[0], hi[0], s, id)) {
        hs[0] = s;
        hi[0] = id;
        siftDown(0);
      }
    }
  const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => hs[b] - hs[a] || hi[a] - hi[b]);
  return { ids: Uint32Array.from(order, (i) => hi[i]), scores: Float32Array.from(order, (i) => hs[i]) };
}

// ---------------------------------------------------------------------------------------------
// The compressed index
// ---------------------------------------------------------------------------------------------

/** PLAID / ColBERTv2 index as plain data (every array can be stored as a blob). */
export interface PlaidIndex {
  dim: number;
  /** Bits per residual dimension. */
  bits: 1 | 2;
  /** Unit centroids [numCentroids, dim]. */
  centroids: Float32Array;
  numCentroids: number;
  /** Each token's centroid id (u16 when there are at most 65536 centroids). */
  codes: Uint16Array | Uint32Array;
  /** Each token's residual buckets, `rowBytes` bytes per token, dimension j at bits j*bits.. of the row. */
  residuals: Uint8Array;
  rowBytes: number;
  /** Per dimension, the 2^bits − 1 ascending bucket cutoffs: [dim, 2^bits − 1]. */
  cutoffs: Float32Array;
  /** Per dimension, the value each bucket decodes to: [dim, 2^bits]. */
  bucketValues: Float32Array;
  /** As TokenMatrix.docOffsets. */
  docOffsets: Uint32Array;
  /** Inverted lists: the documents (ascending, once each) with a token in centroid c are
   *  ivfDocs[ivfOffsets[c] .. ivfOffsets[c + 1]]. */
  ivfOffsets: Uint32Array;
  ivfDocs: Uint32Array;
  /** Optional float16 copies of the tokens ([n, dim] IEEE half bit patterns), 2·dim more bytes per
   *  token, for the final exact re-score of the best few documents (buildPlaidIndex keepFloat16). */
  float16?: Uint16Array;
}

/** PLAID's default centroid count for `n` tokens: 2^floor(log2(16 √n)). */
export function defaultCentroids(n: number): number {
  return 2 ** Math.floor(Math.log2(16 * Math.sqrt(Math.max(n, 1))));
}

/** Stored bytes per token: centroid id + packed residual (+ the float16 copy when kept;
 *  centroids, cutoffs, lists not counted). */
export function plaidBytesPerToken(index: Pick<PlaidIndex, "codes" | "rowBytes" | "float16">): number {
  const n = index.codes.length;
  const f16 = index.float16 && n > 0 ? index.float16.byteLength / n : 0; // 2·dim
  return index.codes.BYTES_PER_ELEMENT + index.rowBytes + f16;
}

/** Every stored byte of the index (codes, residuals, centroids, tables, offsets, inverted lists). */
export function plaidIndexBytes(index: PlaidIndex): number {
  return [
    index.centroids,
    index.codes,
    index.residuals,
    index.cutoffs,
    index.bucketValues,
    index.docOffsets,
    index.ivfOffsets,
    index.ivfDocs,
    index.float16 ?? new Uint16Array(0),
  ].reduce((n, a) => n + a.byteLength, 0);
}

export interface PlaidBuildOptions {
  /** Number of centroids (default defaultCentroids(n), at most n). */
  centroids?: number;
  /** Bits per residual dimension (default 2). */
  bits?: 1 | 2;
  seed?: number;
  /** Lloyd iterations (default 4). */
  iters?: number;
  /** Token rows k-means trains on (default kmeans.ts). */
  sample?: number;
  /** Also keep float16 copies of the tokens (2·dim bytes per token) for the final re-score. */
  keepFloat16?: boolean;
}

/** Residual quantiles need far fewer rows than a big collection has: every stride-th token. */
const QUANTILE_ROWS = 65536;

/**
 * Per dimension, cutoffs at quantiles 1/B .. (B−1)/B of the residuals, B = 2^bits: ColBERTv2's
 * scheme, which puts equally many residuals in each bucket.
 */
function residualBuckets(
  tokens: Float32Array,
  n: number,
  dim: number,
  centroids: Float32Array,
  codes: ArrayLike<number>,
  bits: number,
): { cutoffs: Float32Array; bucketValues: Float32Array } {
  const B = 1 << bits;
  const stride = Math.max(1, Math.floor(n / QUANTILE_ROWS));
  const rows = Math.ceil(n / stride);
  const col = new Float32Array(rows);
  const cutoffs = new Float32Array(dim * (B - 1));
  const bucketValues = new Float32Array(dim * B);
  const quantile = (sorted: Float32Array, p: number) => {
    const x = p * (sorted.length - 1);
    const lo = Math.floor(x);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
  };
  for (let d = 0; d < dim; d++) {
    for (let r = 0; r < rows; r++) {
      const t = r * stride;
      col[r] = tokens[t * dim + d] - centroids[codes[t] * dim + d];
    }
    col.sort();
    for (let b = 1; b < B; b++) cutoffs[d * (B - 1) + b - 1] = quantile(col, b / B);
    // each bucket decodes to the mean of its residuals (the least-squares value; ColBERTv2 takes
    // the median, quantile (b + 0.5) / B, which errs more in the wide outer buckets)
    for (let b = 0; b < B; b++) {
      const lo = Math.floor((b * rows) / B);
      const hi = Math.max(lo + 1, Math.floor(((b + 1) * rows) / B));
      let s = 0;
      for (let r = lo; r < hi; r++) s += col[r];
      bucketValues[d * B + b] = s / (hi - lo);
    }
  }
  return { cutoffs, bucketValues };
}

/** Document lists per centroid (CSR), each ascending and without repeats. */
function invertedLists(
  codes: ArrayLike<number>,
  docOffsets: Uint32Array,
  k: number,
): { ivfOffsets: Uint32Array; ivfDocs: Uint32Array } {
  const nDocs = docOffsets.length - 1;
  // lastDoc[c] = last document counted for centroid c: a document adds itself once per centroid
  const lastDoc = new Int32Array(k).fill(-1);
  const counts = new Uint32Array(k + 1);
  for (let d = 0; d < nDocs; d++)
    for (let t = docOffsets[d]; t < docOffsets[d + 1]; t++) {
      const c = codes[t];
      if (lastDoc[c] !== d) {
        lastDoc[c] = d;
        counts[c + 1]++;
      }
    }
  for (let c = 0; c < k; c++) counts[c + 1] += counts[c];
  const ivfDocs = new Uint32Array(counts[k]);
  const fill = counts.slice(0, k);
  lastDoc.fill(-1);
  for (let d = 0; d < nDocs; d++)
    for (let t = docOffsets[d]; t < docOffsets[d + 1]; t++) {
      const c = codes[t];
      if (lastDoc[c] !== d) {
        lastDoc[c] = d;
        ivfDocs[fill[c]++] = d;
      }
    }
  return { ivfOffsets: counts, ivfDocs };
}

/** Builds the compressed index of `tokens` ([n, dim] unit rows) split into documents by `docOffsets`. */
export function buildPlaidIndex(
  tokens: Float32Array,
  dims: readonly [number, number],
  docOffsets: Uint32Array,
  opts: PlaidBuildOptions = {},
): PlaidIndex {
  const [n, dim] = dims;
  checkMatrix({ tokens, dims, docOffsets }, "buildPlaidIndex");
  const bits = opts.bits ?? 2;
  if (bits !== 1 && bits !== 2) throw new Error(`bits must be 1 or 2, got ${bits}`);
  const k = Math.min(opts.centroids ?? defaultCentroids(n), n);
  const centroids = sphericalKmeans(tokens, n, dim, k, {
    iters: opts.iters,
    sample: opts.sample,
    seed: opts.seed,
  });
  const assign = new Uint32Array(n);
  assignNearest(tokens, n, dim, centroids, k, assign);
  const codes = k <= 65536 ? Uint16Array.from(assign) : assign;

  const { cutoffs, bucketValues } = residualBuckets(tokens, n, dim, centroids, codes, bits);
  const B = 1 << bits;
  const rowBytes = Math.ceil((dim * bits) / 8);
  const residuals = new Uint8Array(n * rowBytes);
  for (let t = 0; t < n; t++) {
    const c = codes[t];
    for (let d = 0; d < dim; d++) {
      const r = tokens[t * dim + d] - centroids[c * dim + d];
      let b = 0; // the bucket: how many cutoffs lie at or below r
      while (b < B - 1 && r >= cutoffs[d * (B - 1) + b]) b++;
      const bit = d * bits;
      residuals[t * rowBytes + (bit >> 3)] |= b << (bit & 7);
    }
  }
  return {
    dim,
    bits,
    centroids,
    numCentroids: k,
    codes,
    residuals,
    rowBytes,
    cutoffs,
    bucketValues,
    docOffsets,
    ...invertedLists(codes, docOffsets, k),
    ...(opts.keepFloat16 ? { float16: toFloat16(tokens) } : {}),
  };
}

/**
 * Tokens `from`..`to` of the index as unit vectors (centroid + dequantized residual, normalized as
 * ColBERTv2 does) into `out` (at least (to − from) * dim long).
 */
export function decompressTokens(
  index: PlaidIndex,
  from: number,
  to: number,
  out: Float32Array,
): Float32Array {
  const { dim, bits, centroids, codes, residuals, rowBytes, bucketValues } = index;
  const B = 1 << bits;
  const mask = B - 1;
  for (let t = from; t < to; t++) {
    const o = (t - from) * dim;
    const c = codes[t] * dim;
    const row = t * rowBytes;
    for (let d = 0; d < dim; d++) {
      const bit = d * bits;
      const b = (residuals[row + (bit >> 3)] >> (bit & 7)) & mask;
      out[o + d] = centroids[c + d] + bucketValues[d * B + b];
    }
  }
  normalizeRows(out, to - from, dim);
  return out;
}

// ---------------------------------------------------------------------------------------------
// float16 (IEEE half) copies, for the final exact re-score (Node 20 has no Float16Array)
// ---------------------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bit pattern of `x`, rounded to nearest even. */
function halfBits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    m |= 0x800000; // subnormal half: shift the full mantissa in
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is still right
  return sign | h;
}

/** Half bit patterns of every value of `x`. */
export function toFloat16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = halfBits(x[i]);
  return out;
}

let halfTable: Float32Array | undefined;
/** The float value of every half bit pattern (256 KiB, built on first use). */
export function float16Table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const e = (h >>> 10) & 31;
    const m = h & 1023;
    const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
    halfTable[h] = h & 0x8000 ? -v : v;
  }
  return halfTable;
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/** searchPlaid's defaults (rerank: per result asked for, when the index kept float16 copies). */
export const PLAID_SEARCH_DEFAULTS = { nprobe: 8, candidates: 2048, rerankPerK: 10 } as const;

export interface PlaidSearchOptions {
  /** Centroids probed per query token (default 8). */
  nprobe?: number;
  /** Documents re-scored with full MaxSim after the centroid-interaction ranking (default 2048). */
  candidates?: number;
  /**
   * Re-score over decompressed vectors (default), over the index's float16 copies (every kept
   * candidate scored as exactly as float16 allows: what a collection, which keeps them anyway,
   * does), or over `exactTokens`, the original vectors.
   */
  rescore?: "decompressed" | "float16" | "exact";
  /** The original token matrix ([n, dim], the rows the index was built from), for rescore "exact". */
  exactTokens?: Float32Array;
  /**
   * After decompressed re-scoring, the best `rerank` documents are scored once more with the
   * index's float16 token copies (default 10·k when the index kept them, else 0).
   */
  rerank?: number;
}

export interface PlaidHits extends Hits {
  /** Documents found through the probed centroids. */
  generated: number;
  /** Documents re-scored with full MaxSim. */
  rescored: number;
  /** Documents re-scored once more with float16 vectors. */
  reranked: number;
}

/** Each query token's `nprobe` best centroids by score (scores [nq, k] row-major), marked in `probed`. */
function probeCentroids(
  scores: Float32Array,
  nq: number,
  k: number,
  nprobe: number,
  probed: Uint8Array,
): void {
  const p = Math.min(nprobe, k);
  const bestIds = new Int32Array(p);
  const bestS = new Float64Array(p);
  for (let i = 0; i < nq; i++) {
    bestS.fill(-Infinity);
    bestIds.fill(-1);
    const row = i * k;
    for (let c = 0; c < k; c++) {
      const s = scores[row + c];
      if (s <= bestS[p - 1]) continue;
      // insertion into the short sorted list (p is a handful)
      let j = p - 1;
      while (j > 0 && bestS[j - 1] < s) {
        bestS[j] = bestS[j - 1];
        bestIds[j] = bestIds[j - 1];
        j--;
      }
      bestS[j] = s;
      bestIds[j] = c;
    }
    for (let j = 0; j < p; j++) if (bestIds[j] >= 0) probed[bestIds[j]] = 1;
  }
}

const invNormCache = new WeakMap<Uint8Array, Float32Array>(); // keyed by index.residuals

/**
 * 1 / |c + r| of every decompressed token: query-independent, so derived once per index on first
 * search (4 bytes per token in memory, nothing stored).
 */
function decodedInvNorms(index: PlaidIndex): Float32Array {
  let inv = invNormCache.get(index.residuals);
  if (inv) return inv;
  const { dim, bits, centroids, codes, residuals, rowBytes, bucketValues } = index;
  const B = 1 << bits;
  const mask = B - 1;
  const n = codes.length;
  inv = new Float32Array(n);
  for (let t = 0; t < n; t++) {
    const co = codes[t] * dim;
    const row = t * rowBytes;
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const bit = d * bits;
      const x = centroids[co + d] + bucketValues[d * B + ((residuals[row + (bit >> 3)] >> (bit & 7)) & mask)];
      s += x * x;
    }
    inv[t] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  invNormCache.set(index.residuals, inv);
  return inv;
}

/**
 * Scores MaxSim over decompressed tokens without decompressing them: ⟨q_i, c + r⟩ = ⟨q_i, c⟩
 * (the query-centroid table) + Σ over residual bytes of a per-query lookup table (each byte holds
 * 8 / bits dimensions, so one table entry sums their ⟨q_i[d], bucket value⟩), then multiplies by
 * 1 / |c + r| (decodedInvNorms) as decompressTokens' normalization would. A quarter of the
 * arithmetic of decompressing and taking dot products (dim 32, 2 bits), though in V8 the table
 * gathers make a token cost about as much as one exact float MaxSim token: the speed-up over exact
 * search comes from scoring few documents.
 */
class ResidualScorer {
  /** lut[(p * 256 + v) * nq + i]: query token i's dot with the dims of byte p holding value v. */
  private readonly lut: Float32Array;
  /** Scratch: each residual byte's row offset in lut for the current token. */
  private readonly offs: Int32Array;

  constructor(
    private readonly index: PlaidIndex,
    private readonly q: Float32Array,
    private readonly nq: number,
    /** query-centroid scores, [K, nq] */
    private readonly cq: Float32Array,
  ) {
    const { dim, bits, rowBytes, bucketValues } = index;
    const B = 1 << bits;
    const per = 8 / bits;
    this.lut = new Float32Array(rowBytes * 256 * nq);
    for (let p = 0; p < rowBytes; p++)
      for (let v = 0; v < 256; v++)
        for (let i = 0; i < nq; i++) {
          let s = 0;
          for (let j = 0; j < per; j++) {
            const d = p * per + j;
            if (d >= dim) break;
            s += q[i * dim + d] * bucketValues[d * B + ((v >> (j * bits)) & (B - 1))];
          }
          this.lut[(p * 256 + v) * nq + i] = s;
        }
    this.offs = new Int32Array(rowBytes);
  }

  /** MaxSim of the query with tokens from..to (0 for none). */
  maxSim(from: number, to: number, maxima: Float64Array): number {
    if (to <= from) return 0;
    const { codes, residuals, rowBytes } = this.index;
    const invNorms = decodedInvNorms(this.index);
    const nq = this.nq;
    const lut = this.lut;
    const offs = this.offs;
    const cq = this.cq;
    for (let i = 0; i < nq; i++) maxima[i] = -Infinity;
    for (let t = from; t < to; t++) {
      const code = codes[t];
      const row = t * rowBytes;
      const inv = invNorms[t];
      const cqo = code * nq;
      for (let p = 0; p < rowBytes; p++) offs[p] = (p * 256 + residuals[row + p]) * nq;
      for (let i = 0; i < nq; i++) {
        let s = cq[cqo + i];
        for (let p = 0; p < rowBytes; p++) s += lut[offs[p] + i];
        s *= inv;
        if (s > maxima[i]) maxima[i] = s;
      }
    }
    let s = 0;
    for (let i = 0; i < nq; i++) s += maxima[i];
    return s;
  }
}

/** Top `k` documents of `index` for `query` (see the file comment for the stages). */
export function searchPlaid(
  index: PlaidIndex,
  query: MultiVectors,
  k: number,
  opts: PlaidSearchOptions = {},
): PlaidHits {
  const { dim, numCentroids: K, codes, docOffsets } = index;
  checkQuery(query, dim);
  const nq = query.dims[0];
  const nDocs = docOffsets.length - 1;
  const rescore = opts.rescore ?? "decompressed";
  if (rescore === "float16" && !index.float16)
    throw new Error(`rescore "float16" needs the index's float16 copies (buildPlaidIndex keepFloat16)`);
  if (rescore === "exact" && opts.exactTokens?.length !== (docOffsets[nDocs] ?? 0) * dim)
    throw new Error(
      `rescore "exact" needs exactTokens: the ${docOffsets[nDocs]} x ${dim} token matrix indexed`,
    );

  // query-token x centroid scores, both layouts: rows per query token to probe, rows per centroid
  // for the centroid interaction (a token's nq scores are then contiguous)
  const qc = new Float32Array(nq * K);
  for (let i = 0; i < nq; i++)
    for (let c = 0; c < K; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += query.vectors[i * dim + d] * index.centroids[c * dim + d];
      qc[i * K + c] = s;
    }
  const cq = new Float32Array(K * nq);
  for (let i = 0; i < nq; i++) for (let c = 0; c < K; c++) cq[c * nq + i] = qc[i * K + c];

  // candidate generation: documents in the inverted lists of the probed centroids
  const probed = new Uint8Array(K);
  probeCentroids(qc, nq, K, opts.nprobe ?? PLAID_SEARCH_DEFAULTS.nprobe, probed);
  const seen = new Uint8Array(nDocs);
  const cands: number[] = [];
  for (let c = 0; c < K; c++) {
    if (!probed[c]) continue;
    for (let x = index.ivfOffsets[c]; x < index.ivfOffsets[c + 1]; x++) {
      const d = index.ivfDocs[x];
      if (!seen[d]) {
        seen[d] = 1;
        cands.push(d);
      }
    }
  }
  cands.sort((a, b) => a - b); // document order: deterministic, and sequential reads of codes

  // centroid interaction: MaxSim with each document token replaced by its centroid
  const approx = new Float32Array(cands.length);
  const maxima = new Float64Array(nq);
  for (let x = 0; x < cands.length; x++) {
    const d = cands[x];
    maxima.fill(-Infinity);
    for (let t = docOffsets[d]; t < docOffsets[d + 1]; t++) {
      const row = codes[t] * nq;
      for (let i = 0; i < nq; i++) if (cq[row + i] > maxima[i]) maxima[i] = cq[row + i];
    }
    let s = 0;
    for (let i = 0; i < nq; i++) s += maxima[i];
    approx[x] = s;
  }
  const keep = topK(approx, opts.candidates ?? PLAID_SEARCH_DEFAULTS.candidates);

  // re-scoring: full MaxSim over the kept documents' (decompressed, float16 or original) vectors
  // in document order, so equal final scores go to the lower document index
  const ids = Uint32Array.from(keep.ids, (x) => cands[x]).sort();
  const f16 = index.float16;
  const table = f16 ? float16Table() : null;
  let buf = new Float32Array(0);
  /** MaxSim of document d over its float16 copies. */
  const halfMaxSim = (d: number) => {
    const from = docOffsets[d] * dim;
    const to = docOffsets[d + 1] * dim;
    if (buf.length < to - from) buf = new Float32Array(to - from);
    for (let x = from; x < to; x++) buf[x - from] = table![f16![x]];
    return maxSimRows(query.vectors, nq, dim, buf, 0, (to - from) / dim, maxima);
  };
  const full = new Float32Array(ids.length);
  const scorer = rescore === "decompressed" ? new ResidualScorer(index, query.vectors, nq, cq) : undefined;
  ids.forEach((d, x) => {
    full[x] =
      rescore === "float16"
        ? halfMaxSim(d)
        : scorer
          ? scorer.maxSim(docOffsets[d], docOffsets[d + 1], maxima)
          : maxSimRows(query.vectors, nq, dim, opts.exactTokens!, docOffsets[d], docOffsets[d + 1], maxima);
  });

  // final re-score of the best few with the float16 copies
  const rerank =
    rescore !== "decompressed" || !f16
      ? 0
      : Math.min(opts.rerank ?? PLAID_SEARCH_DEFAULTS.rerankPerK * k, ids.length);
  if (rerank > 0) {
    const few = topK(full, rerank);
    const rids = Uint32Array.from(few.ids, (x) => ids[x]).sort();
    const exact = Float32Array.from(rids, halfMaxSim);
    const top = topK(exact, k);
    return {
      ids: Uint32Array.from(top.ids, (x) => rids[x]),
      scores: top.scores,
      generated: cands.length,
      rescored: ids.length,
      reranked: rids.length,
    };
  }
  const top = topK(full, k);
  return {
    ids: Uint32Array.from(top.ids, (x) => ids[x]),
    scores: top.scores,
    generated: cands.length,
    rescored: ids.length,
    reranked: 0,
  };
}

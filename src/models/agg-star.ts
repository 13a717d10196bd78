// agg*: the compression of a |V|-wide lexical vector into `d` dims that Aggretriever concatenates
// to its [CLS] vector (shared/fixtures/aggretriever/README.md, step 4). Both algorithms select, for
// each output dim j, the largest entry among the vocabulary slots that fold onto j, and give it a
// sign from where it came from, so a dot product of two agg* vectors approximates the sparse
// lexical dot product:
//   generic (mAggretriever, any vocabulary): pad v to a multiple of d (a whole zero chunk when
//     V mod d = 0), cut it into K chunks of d; a[j] = v[k*·d + j] · (+1 if k* is odd else −1),
//     k* = the first chunk holding the largest entry at j;
//   bert30522 (Aggretriever on BERT's vocabulary): drop or pad r entries (r = V mod 2d, minus 2d
//     when over 1000), cut into chunks of 2d, t = max over chunks, a[j] = t[2j] if t[2j] > t[2j+1]
//     else −t[2j+1].
// Both are "a positive and a negative candidate per dim" (`aggLayout`), which is how the training
// graph (aggretriever.ts) computes them with ReduceMax; this file is the plain reference the
// encoder runs and the fixtures check exactly.

export type AggAlgorithm = "generic" | "bert30522";

/** The algorithm the reference code uses for a vocabulary: BERT's own only for exactly 30522. */
export const aggAlgorithm = (vocab: number): AggAlgorithm => (vocab === 30522 ? "bert30522" : "generic");

/** bert30522's shift: drop the first `r` entries when r >= 0, else append −r zeros. */
function bertShift(vocab: number, d: number): number {
  let r = vocab % (2 * d);
  if (r > 1000) r -= 2 * d; // "the first 1000 tokens in BERT are useless"
  return r;
}

/**
 * Where each vocabulary entry lands: `slot[t]`, its output dim (−1 when the algorithm drops it),
 * and `positive[t]`, whether it is a positive candidate there. (Padding zeros are left out: the
 * self-prediction graph that uses this has a 0 among every slot's candidates anyway.)
 */
export interface AggLayout {
  slot: Int32Array;
  positive: Uint8Array;
}

export function aggLayout(vocab: number, d: number, algorithm: AggAlgorithm): AggLayout {
  const slot = new Int32Array(vocab);
  const positive = new Uint8Array(vocab);
  const r = algorithm === "generic" ? 0 : bertShift(vocab, d);
  for (let t = 0; t < vocab; t++) {
    if (algorithm === "generic") {
      slot[t] = t % d;
      positive[t] = Math.floor(t / d) % 2;
    } else if (t < r) slot[t] = -1;
    else {
      const jj = (t - Math.max(r, 0)) % (2 * d);
      slot[t] = jj >> 1;
      positive[t] = jj & 1 ? 0 : 1;
    }
  }
  return { slot, positive };
}

/** agg* of one lexical row `v` [V] into `d` dims, exactly as the reference code computes it. */
export function aggregate(
  v: Float32Array,
  d: number,
  algorithm: AggAlgorithm = aggAlgorithm(v.length),
): Float32Array {
  const V = v.length;
  const out = new Float32Array(d);
  if (algorithm === "generic") {
    const K = Math.ceil((V + 1) / d); // V mod d = 0 still gets a whole zero chunk
    for (let j = 0; j < d; j++) {
      let best = -Infinity;
      let bestK = 0;
      for (let k = 0; k < K; k++) {
        const t = k * d + j;
        const x = t < V ? v[t] : 0;
        if (x > best) {
          best = x;
          bestK = k;
        }
      }
      out[j] = bestK % 2 === 1 || best === 0 ? best : -best; // +0, not -0, as the fixtures hold
    }
    return out;
  }
  const r = bertShift(V, d);
  const len = V - r; // r dropped, or −r zeros appended
  const t2 = new Float32Array(2 * d).fill(-Infinity);
  for (let u = 0; u < len; u++) {
    const x = r >= 0 ? v[u + r] : u < V ? v[u] : 0;
    const jj = u % (2 * d);
    if (x > t2[jj]) t2[jj] = x;
  }
  for (let j = 0; j < d; j++) out[j] = t2[2 * j] > t2[2 * j + 1] ? t2[2 * j] : -t2[2 * j + 1] || 0;
  return out;
}

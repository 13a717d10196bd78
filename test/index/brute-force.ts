// Brute-force references for the collection tests, independent of src/index: Lucene's BM25 in
// doubles over analysed terms, and dense scores as plain dot products of unit vectors.

/** Lucene BM25 (k1 0.9, b 0.4, Lucene's one-byte stored length) of every matching document. */
export function bruteBm25(
  docs: { id: string; terms: string[] }[],
  query: string[],
  allowed?: (id: string) => boolean,
): Map<string, number> {
  const k1 = 0.9;
  const b = 0.4;
  const withTerms = docs.filter((d) => d.terms.length > 0);
  const N = withTerms.length;
  const avgdl = withTerms.reduce((s, d) => s + d.terms.length, 0) / N;
  const df = new Map<string, number>();
  for (const d of withTerms) for (const t of new Set(d.terms)) df.set(t, (df.get(t) ?? 0) + 1);
  const storedLength = (n: number) => {
    if (n < 24) return n;
    const bits = (n - 24).toString(2);
    return 24 + (bits.length <= 4 ? n - 24 : parseInt(bits.slice(0, 4) + "0".repeat(bits.length - 4), 2));
  };
  const scores = new Map<string, number>();
  for (const d of withTerms) {
    if (allowed && !allowed(d.id)) continue;
    const dl = storedLength(d.terms.length);
    let score = 0;
    for (const q of query) {
      const tf = d.terms.filter((t) => t === q).length;
      if (tf === 0) continue;
      const n = df.get(q)!;
      const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
      score += (idf * tf) / (tf + k1 * (1 - b + (b * dl) / avgdl));
    }
    if (score > 0) scores.set(d.id, score);
  }
  return scores;
}

export function unit(v: Float32Array): Float64Array {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return Float64Array.from(v, (x) => x / n);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Ids by score, best first (ties by id), top k. */
export function ranked(scores: Map<string, number>, k: number): { id: string; score: number }[] {
  return [...scores]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([id, score]) => ({ id, score }));
}

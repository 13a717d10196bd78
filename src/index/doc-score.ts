// A document's score from its chunks' scores: the best chunk ("max", the default: a long document
// is as relevant as its most relevant passage), or the sum of its best `top` chunks ("sum:3":
// rewards documents that match in several places).

export type DocScore = { kind: "max" } | { kind: "sum"; top: number };

export const MAX_SCORE: DocScore = Object.freeze({ kind: "max" });

/** "max", "sum" (all chunks) or "sum:K". */
export function parseDocScore(s: string, source = "--doc-score"): DocScore {
  if (s === "max") return MAX_SCORE;
  const m = /^sum(?::(\d+))?$/.exec(s);
  if (m) {
    const top = m[1] === undefined ? Infinity : Number(m[1]);
    if (top >= 1) return { kind: "sum", top };
  }
  throw new Error(`${source}: ${JSON.stringify(s)} is not a document score: use max, sum or sum:K (K >= 1)`);
}

export function formatDocScore(d: DocScore): string {
  return d.kind === "max" ? "max" : d.top === Infinity ? "sum" : `sum:${d.top}`;
}

/** One chunk's score. */
export interface ChunkScore {
  chunk: number;
  score: number;
}

/** One document's aggregated score and its best chunk. */
export interface DocHit {
  doc: number;
  score: number;
  /** The document's best-scoring chunk: the passage shown as its snippet. */
  chunk: number;
}

/**
 * Documents from scored chunks (any order; each chunk once), best first, ties to the lower document
 * number. `docOf` maps a chunk to its document (or -1: skip the chunk).
 */
export function docsFromChunks(
  chunks: Iterable<ChunkScore>,
  docOf: (chunk: number) => number,
  agg: DocScore,
  k: number,
): DocHit[] {
  const byDoc = new Map<number, { best: ChunkScore; scores: number[] }>();
  for (const c of chunks) {
    const d = docOf(c.chunk);
    if (d < 0) continue;
    const e = byDoc.get(d);
    if (e === undefined) byDoc.set(d, { best: c, scores: [c.score] });
    else {
      e.scores.push(c.score);
      if (c.score > e.best.score || (c.score === e.best.score && c.chunk < e.best.chunk)) e.best = c;
    }
  }
  const hits: DocHit[] = [];
  for (const [doc, e] of byDoc) {
    let score = e.best.score;
    if (agg.kind === "sum") {
      const s = e.scores.sort((a, b) => b - a);
      score = 0;
      for (let i = 0; i < Math.min(s.length, agg.top); i++) score += s[i];
    }
    hits.push({ doc, score, chunk: e.best.chunk });
  }
  return hits.sort((a, b) => b.score - a.score || a.doc - b.doc).slice(0, k);
}

// Words of a text for comparing texts with each other (near-duplicate checks when mining hard
// negatives and when filtering augmented queries): NFKC, lower case, Intl.Segmenter's word-like
// segments, so Chinese and Thai split into words too.

let segmenter: Intl.Segmenter | undefined; // stateless: a cache

export function comparableWords(text: string): string[] {
  segmenter ??= new Intl.Segmenter("und", { granularity: "word" });
  const out: string[] = [];
  for (const s of segmenter.segment(text.normalize("NFKC").toLowerCase()))
    if (s.isWordLike) out.push(s.segment);
  return out;
}

/** Jaccard of two word sets (1 for two empty sets). */
export function setJaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let both = 0;
  for (const w of a) if (b.has(w)) both++;
  return both / (a.size + b.size - both);
}

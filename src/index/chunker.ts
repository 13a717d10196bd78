// Long documents -> windows of at most N encoder tokens, overlapping by about M tokens, each a
// [start, end) span of the document's text cut on word boundaries.
//
// Token counts come from the encoder's own tokenizer (prompt and special tokens included), so a
// chunk is never truncated by the encoder. Words are Intl.Segmenter's (so Thai, Chinese, Japanese
// cut between words too); a unit is a word with the spaces and punctuation after it. Windows are
// packed greedily from the units' counts, then each window's text is counted whole and shrunk a
// unit at a time until it fits (a word's tokens in context can differ from its tokens alone). A
// unit longer than a window on its own (a long URL, a run of symbols) is cut between characters.
// A title, when given and short, is put before every chunk ("title\n"), counted in the window.

export interface TokenCounter {
  /** Token rows' whole lengths as the encoder makes them (prompt and special tokens included). */
  count(texts: readonly string[]): number[];
}

export interface ChunkOptions {
  /** Window size in tokens, special tokens included. */
  tokens: number;
  /** Tokens shared by consecutive windows (at most about this many: cut on word boundaries). */
  overlap: number;
}

export interface Chunk {
  /** [start, end) in the document's text (UTF-16 units), whitespace trimmed. */
  start: number;
  end: number;
  /** text.slice(start, end). */
  text: string;
  /** What is put before the text when encoding and indexing it ("" or "title\n"). */
  prefix: string;
}

export interface ChunkInput {
  text: string;
  title?: string;
}

/** Checks window options against the encoder's limit; returns them. */
export function checkChunkOptions(o: ChunkOptions, maxLength: number): ChunkOptions {
  if (!Number.isInteger(o.tokens) || o.tokens < 8 || o.tokens > maxLength) {
    throw new Error(
      `--chunk-tokens ${o.tokens}: give an integer from 8 to the model's max length ${maxLength}`,
    );
  }
  if (!Number.isInteger(o.overlap) || o.overlap < 0 || o.overlap > o.tokens / 2) {
    throw new Error(
      `--overlap ${o.overlap}: give an integer from 0 to half of --chunk-tokens (${Math.floor(o.tokens / 2)})`,
    );
  }
  return o;
}

/** The chunks of each document, in order. */
export function chunkDocuments(
  docs: readonly ChunkInput[],
  counter: TokenCounter,
  opts: ChunkOptions,
): Chunk[][] {
  const [overhead] = counter.count([""]);
  const fits = (c: number) => c <= opts.tokens;
  const budget = opts.tokens - overhead;
  if (budget < 4)
    throw new Error(
      `--chunk-tokens ${opts.tokens} leaves no room for text after the model's ${overhead} special and prompt tokens`,
    );

  // Titles short enough to repeat in every window (a quarter of it at most); others are left out.
  const prefixes = docs.map((d) => (d.title && d.title.trim() ? `${d.title.trim()}\n` : ""));
  const titled = prefixes.map((p, i) => [p, i] as const).filter(([p]) => p !== "");
  const titleCounts = counter.count(titled.map(([p]) => p));
  const prefixTokens = docs.map(() => 0);
  titled.forEach(([, i], j) => {
    const t = titleCounts[j] - overhead;
    if (t <= budget / 4) prefixTokens[i] = t;
    else prefixes[i] = "";
  });

  const whole = counter.count(docs.map((d, i) => prefixes[i] + d.text.trim()));
  return docs.map((d, i) => {
    if (fits(whole[i])) return [span(d.text, 0, d.text.length, prefixes[i])];
    return windows(d.text, prefixes[i], budget - prefixTokens[i], overhead, counter, fits, opts.overlap);
  });
}

function span(text: string, start: number, end: number, prefix: string): Chunk {
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  return { start, end, text: text.slice(start, end), prefix };
}

interface Unit {
  start: number;
  end: number;
  tokens: number;
}

function windows(
  text: string,
  prefix: string,
  budget: number,
  overhead: number,
  counter: TokenCounter,
  fits: (c: number) => boolean,
  overlap: number,
): Chunk[] {
  const units = splitLong(wordUnits(text), text, prefix, budget, overhead, counter, fits);
  const out: Chunk[] = [];
  let s = 0;
  while (s < units.length) {
    let e = s;
    let sum = 0;
    while (e < units.length && (e === s || sum + units[e].tokens <= budget)) sum += units[e++].tokens;
    let chunk = span(text, units[s].start, units[e - 1].end, prefix);
    while (e > s + 1 && !fits(counter.count([prefix + chunk.text])[0])) {
      e--;
      chunk = span(text, units[s].start, units[e - 1].end, prefix);
    }
    if (chunk.text !== "") out.push(chunk);
    if (e >= units.length) break;
    let k = e;
    let shared = 0;
    while (k - 1 > s && shared + units[k - 1].tokens <= overlap) shared += units[--k].tokens;
    s = k;
  }
  return out;
}

/** Word units covering the text: a word plus what follows it up to the next word. */
function wordUnits(text: string): { start: number; end: number }[] {
  const seg = new Intl.Segmenter(undefined, { granularity: "word" });
  const starts: number[] = [0];
  for (const s of seg.segment(text)) if (s.isWordLike && s.index > 0) starts.push(s.index);
  return starts.map((start, i) => ({ start, end: starts[i + 1] ?? text.length }));
}

/** Counts every unit and cuts the ones that cannot fit a window alone between characters. */
function splitLong(
  raw: { start: number; end: number }[],
  text: string,
  prefix: string,
  budget: number,
  overhead: number,
  counter: TokenCounter,
  fits: (c: number) => boolean,
): Unit[] {
  const counts = counter.count(raw.map((u) => text.slice(u.start, u.end)));
  const out: Unit[] = [];
  raw.forEach((u, i) => {
    const tokens = Math.max(0, counts[i] - overhead);
    if (tokens <= budget && fits(counter.count([prefix + text.slice(u.start, u.end).trim()])[0])) {
      out.push({ ...u, tokens });
      return;
    }
    // Longest fitting prefix of the rest, by binary search over code point boundaries.
    let start = u.start;
    while (start < u.end) {
      const points = [...text.slice(start, u.end)];
      let lo = 1;
      let hi = points.length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (fits(counter.count([prefix + points.slice(0, mid).join("")])[0])) lo = mid;
        else hi = mid - 1;
      }
      const end = start + points.slice(0, lo).join("").length;
      const piece = counter.count([text.slice(start, end)])[0] - overhead;
      out.push({ start, end, tokens: Math.min(budget, Math.max(1, piece)) });
      start = end;
    }
  });
  return out;
}

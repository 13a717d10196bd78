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
// Long texts are segmented in windows (segment.ts: linear time, the same words), and
// chunkDocumentsAsync gives the event loop a turn every few milliseconds of work, so Ctrl-C and
// progress work while a long document is cut.
import { segmentWindows, yieldToEventLoop } from "../text/segment.ts";

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
  const steps = chunkSteps(docs, counter, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** chunkDocuments(), letting the event loop run at least every YIELD_MS of work. */
export async function chunkDocumentsAsync(
  docs: readonly ChunkInput[],
  counter: TokenCounter,
  opts: ChunkOptions,
): Promise<Chunk[][]> {
  const steps = chunkSteps(docs, counter, opts);
  let last = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - last >= YIELD_MS) {
      await yieldToEventLoop();
      last = performance.now();
    }
  }
}

const YIELD_MS = 20;
// Units counted per tokenizer call: bounds the work between two chances to yield.
const COUNT_BATCH = 1024;

// The chunking itself, as a generator that yields (nothing) wherever it may pause: the sync API
// runs it through, the async one awaits the event loop now and then.
function* chunkSteps(
  docs: readonly ChunkInput[],
  counter: TokenCounter,
  opts: ChunkOptions,
): Generator<void, Chunk[][]> {
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
  const out: Chunk[][] = [];
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i];
    if (fits(whole[i])) out.push([span(d.text, 0, d.text.length, prefixes[i])]);
    else
      out.push(
        yield* windows(d.text, prefixes[i], budget - prefixTokens[i], overhead, counter, fits, opts.overlap),
      );
    yield;
  }
  return out;
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

function* windows(
  text: string,
  prefix: string,
  budget: number,
  overhead: number,
  counter: TokenCounter,
  fits: (c: number) => boolean,
  overlap: number,
): Generator<void, Chunk[]> {
  const raw = yield* wordUnits(text);
  const units = yield* splitLong(raw, text, prefix, budget, overhead, counter, fits);
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
    yield;
    let k = e;
    let shared = 0;
    while (k - 1 > s && shared + units[k - 1].tokens <= overlap) shared += units[--k].tokens;
    s = k;
  }
  return out;
}

/** Word units covering the text: a word plus what follows it up to the next word. */
function* wordUnits(text: string): Generator<void, { start: number; end: number }[]> {
  const starts: number[] = [0];
  for (const batch of segmentWindows(text)) {
    for (const s of batch) if (s.isWordLike && s.index > 0) starts.push(s.index);
    yield;
  }
  return starts.map((start, i) => ({ start, end: starts[i + 1] ?? text.length }));
}

/** Counts every unit and cuts the ones that cannot fit a window alone between characters. */
function* splitLong(
  raw: { start: number; end: number }[],
  text: string,
  prefix: string,
  budget: number,
  overhead: number,
  counter: TokenCounter,
  fits: (c: number) => boolean,
): Generator<void, Unit[]> {
  // Counted in batches (the same counts as one call, with pauses between), and a unit that fits the
  // budget alone is counted again with the prefix, also in one call per batch.
  const counts: number[] = [];
  const withPrefix = new Map<number, number>();
  for (let b = 0; b < raw.length; b += COUNT_BATCH) {
    const part = raw.slice(b, b + COUNT_BATCH);
    const c = counter.count(part.map((u) => text.slice(u.start, u.end)));
    const check = part.map((_, k) => b + k).filter((i) => Math.max(0, c[i - b] - overhead) <= budget);
    const p = counter.count(check.map((i) => prefix + text.slice(raw[i].start, raw[i].end).trim()));
    check.forEach((i, k) => withPrefix.set(i, p[k]));
    counts.push(...c);
    yield;
  }
  const out: Unit[] = [];
  for (let i = 0; i < raw.length; i++) {
    const u = raw[i];
    const tokens = Math.max(0, counts[i] - overhead);
    if (tokens <= budget && fits(withPrefix.get(i)!)) {
      out.push({ ...u, tokens });
      continue;
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
    yield;
  }
  return out;
}

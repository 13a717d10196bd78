// Word segmentation (Intl.Segmenter, granularity "word") of texts of any length, in linear time.
//
// V8's segmenter is superlinear in the length of the text it is given: 60K characters of real
// text take 0.3 s, 70K take 20 s (and the event loop is blocked throughout), while the same text in
// 4K windows takes 30 ms. So texts longer than a window are segmented window by window, each cut at
// a position where whole-text segmentation has a boundary that does not depend on what follows it,
// so the words and offsets are those of whole-text segmentation. The cut is the last of these in
// the second half of the window, by preference:
//   1. after whitespace, before a letter or digit: UAX #29 always breaks there, no rule looks across
//      it, and no dictionary run (Thai, Chinese, ...) spans it;
//   2. after sentence punctuation that is no Mid* character for UAX #29 (。！？!?、। ...), before a
//      character that is not a combining mark or format character: text without spaces (Chinese,
//      Japanese, Khmer) splits there, and ICU's dictionaries only ever see runs of their own script;
//   3. (last resort, for a long stretch with neither, e.g. Chinese without punctuation) a boundary
//      the segmenter found in the window at least a quarter window before its end: the rules look
//      only a few characters ahead, but a dictionary's choice can depend on the rest of its run, so
//      here the words may differ from whole-text segmentation (which is impractical at this length);
//   4. (a single word longer than three quarters of a window, e.g. base64) a grapheme boundary near
//      the window's end, or a code point boundary if the last 128 characters are one grapheme: the
//      word comes out in pieces, as the BM25 analyzer cuts words over 255 characters anyway.
// Texts up to one window are segmented whole, exactly as Intl.Segmenter does.

/** Intl.Segmenter's segment data, as plain data. */
export interface WordSegment {
  segment: string;
  /** Offset of the segment in the whole text (UTF-16 units). */
  index: number;
  isWordLike: boolean;
}

/** Characters per Intl.Segmenter call: small enough to stay in the segmenter's linear range. */
export const SEGMENT_WINDOW = 4096;

let WORDS: Intl.Segmenter | undefined;
let GRAPHEMES: Intl.Segmenter | undefined;

// One segmenter serves every language: ICU picks dictionaries by script, not by locale.
function segmenter(granularity: "word" | "grapheme"): Intl.Segmenter {
  if (typeof Intl.Segmenter !== "function") {
    throw new Error(
      "this Node.js has no Intl.Segmenter (built without ICU): use an official Node.js >= 20 build",
    );
  }
  if (granularity === "word") return (WORDS ??= new Intl.Segmenter("und", { granularity: "word" }));
  return (GRAPHEMES ??= new Intl.Segmenter("und", { granularity: "grapheme" }));
}

/** The word segments of `text`, in order, covering it; `window` is for tests (at least 16). */
export function* segmentWords(text: string, window = SEGMENT_WINDOW): Generator<WordSegment> {
  for (const batch of segmentWindows(text, window)) yield* batch;
}

/** segmentWords() a window at a time, giving the event loop a turn after each window. */
export async function* segmentWordsAsync(
  text: string,
  window = SEGMENT_WINDOW,
): AsyncGenerator<WordSegment[]> {
  let first = true;
  for (const batch of segmentWindows(text, window)) {
    if (!first) await yieldToEventLoop();
    first = false;
    yield batch;
  }
}

/** Resolves after pending I/O, timers and signal handlers have had their turn (a macrotask). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The segments of each window, one array per window. */
export function* segmentWindows(text: string, window = SEGMENT_WINDOW): Generator<WordSegment[]> {
  if (typeof text !== "string") throw new Error(`segmentWords: text must be a string, got ${typeof text}`);
  if (!Number.isInteger(window) || window < 16)
    throw new Error(`segmentWords: window must be an integer >= 16, got ${window}`);
  const words = segmenter("word");
  let start = 0;
  while (start < text.length) {
    const end = start + window;
    if (end >= text.length) {
      yield segmentSlice(words, text, start, text.length);
      return;
    }
    const safe = safeCut(text, start + (window >> 1), end);
    if (safe > 0) {
      yield segmentSlice(words, text, start, safe);
      start = safe;
      continue;
    }
    // 3: a boundary of the window's own segmentation, far from its end
    const inWindow = segmentSlice(words, text, start, end);
    const far = end - (window >> 2);
    let k = inWindow.length - 1;
    while (k > 0 && inWindow[k].index > far) k--;
    if (k > 0) {
      yield inWindow.slice(0, k);
      start = inWindow[k].index;
      continue;
    }
    // 4: inside one long segment
    const cut = graphemeCut(text, start, end);
    yield segmentSlice(words, text, start, cut);
    start = cut;
  }
}

function segmentSlice(words: Intl.Segmenter, text: string, start: number, end: number): WordSegment[] {
  const out: WordSegment[] = [];
  for (const s of words.segment(text.slice(start, end))) {
    out.push({ segment: s.segment, index: s.index + start, isWordLike: s.isWordLike === true });
  }
  return out;
}

// Whitespace on which UAX #29 always breaks (WSegSpace, the Newline class, and other spaces of class
// Other). Not U+FEFF, which \s matches but which is a Format character that words run through.
const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
// Sentence and clause ends of class Other (not ，；．：, which are MidNum/MidLetter/MidNumLet).
const SENTENCE_END =
  /[!?\u3001\u3002\uff01\uff1f\u061f\u06d4\u0964\u0965\u104a\u104b\u1362\u1367\u17d4\u17d5]/;
const WORD_START = /^[\p{L}\p{N}]/u;
// What UAX #29 attaches to the character before it (WB4: Extend, Format, ZWJ) or may join to it.
const ATTACHES = /^[\p{M}\p{Cf}\p{Grapheme_Extend}\p{Emoji_Modifier}\p{Cs}]/u;

/** The last position in [from, to] safe by rule 1, else by rule 2; 0 when there is none. */
function safeCut(text: string, from: number, to: number): number {
  for (let p = to; p >= from; p--) {
    if (SPACE.test(text[p - 1]) && startsWord(text, p)) return p;
  }
  for (let p = to; p >= from; p--) {
    if (SENTENCE_END.test(text[p - 1]) && !SPACE.test(text[p]) && !ATTACHES.test(text.slice(p, p + 2)))
      return p;
  }
  return 0;
}

function startsWord(text: string, p: number): boolean {
  const head = text.slice(p, p + 2);
  return WORD_START.test(head) && !ATTACHES.test(head);
}

/** A grapheme boundary in (start, end], as near `end` as the last 128 characters allow. */
function graphemeCut(text: string, start: number, end: number): number {
  const from = Math.max(start + 1, end - 128);
  let best = 0;
  // Boundaries at the slice's own edges are not boundaries of the text; ones inside it are
  // (grapheme rules look at neighbours, and regional indicators pair from the slice's start only
  // when the slice starts on one: such a boundary is one of the text's, maybe not the ideal one).
  for (const g of segmenter("grapheme").segment(text.slice(from - 1, end + 1))) {
    const at = from - 1 + g.index;
    if (at > from && at <= end) best = at;
  }
  if (best > 0) return best;
  // one grapheme of over 128 characters (a pile of combining marks): a code point boundary
  const c = text.charCodeAt(end - 1);
  return c >= 0xd800 && c <= 0xdbff ? end - 1 : end;
}

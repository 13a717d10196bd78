// @ts-check
// DOM helpers. Text from the server (documents, ids, messages) only ever enters the page as text
// nodes or attribute values, never as HTML: h() appends strings with Element.append.

/** @typedef {Node | string | number | null | undefined | false} Child */
/** @typedef {Child | Child[] | Child[][]} Children */

/**
 * An element: h("li", { class: "hit", dir: "rtl" }, "text", child, [more children]).
 * Attributes null, undefined or false are left out; true sets an empty one; "onclick": a listener.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...Children} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function")
      el.addEventListener(k.slice(2), /** @type {any} */ (v));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(2))
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** @param {number | null | undefined} x */
export const fmt = (x) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(4) : "–");

/** @param {number} n */
export function fmtBytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** NLLB codes of scripts written right to left (arb_Arab, heb_Hebr, urd_Arab, pes_Arab, ydd_Hebr, ...). */
const RTL_LANG = /_(Arab|Hebr|Syrc|Thaa|Nkoo|Adlm|Samr|Mand)$/;
/** @param {string} code */
export const isRtlLang = (code) => RTL_LANG.test(code);

const STRONG = /[\p{L}]/u;
const RTL_CHAR =
  /[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Adlam}]/u;
/** "rtl" when the first letter of `text` is in a right-to-left script, else "ltr" (as dir="auto" decides). */
export function textDir(/** @type {string} */ text) {
  for (const ch of text) if (STRONG.test(ch)) return RTL_CHAR.test(ch) ? "rtl" : "ltr";
  return "ltr";
}

/**
 * @typedef {{ start: number, end: number, kind: "term" | "sentence", term?: string, score?: number }} Highlight
 */

/**
 * `text` with its highlights: the best sentence as <mark class="sentence">, query terms as
 * <mark class="term"> (inside the sentence where they fall in it). Offsets are UTF-16 code units,
 * as JavaScript strings count; spans that do not fit the text are skipped.
 * @param {string} text
 * @param {Highlight[] | undefined} highlights
 * @returns {(Node | string)[]}
 */
export function highlighted(text, highlights) {
  const fits = (/** @type {Highlight} */ x) =>
    Number.isInteger(x.start) &&
    Number.isInteger(x.end) &&
    x.start >= 0 &&
    x.start < x.end &&
    x.end <= text.length;
  const spans = (highlights ?? []).filter(fits).sort((a, b) => a.start - b.start);
  const terms = spans.filter((x) => x.kind === "term");
  const out = [];
  let pos = 0;
  for (const s of spans.filter((x) => x.kind === "sentence")) {
    if (s.start < pos) continue; // overlaps the previous sentence
    out.push(...withTerms(text, pos, s.start, terms));
    const title =
      typeof s.score === "number"
        ? `sentence nearest the query (${fmt(s.score)})`
        : "sentence nearest the query";
    out.push(h("mark", { class: "sentence", title }, withTerms(text, s.start, s.end, terms)));
    pos = s.end;
  }
  out.push(...withTerms(text, pos, text.length, terms));
  return out;
}

/** text[a, b) with the term spans in it (clipped to it) as <mark class="term">. */
function withTerms(
  /** @type {string} */ text,
  /** @type {number} */ a,
  /** @type {number} */ b,
  /** @type {Highlight[]} */ terms,
) {
  /** @type {(Node | string)[]} */
  const out = [];
  let pos = a;
  for (const t of terms) {
    const s = Math.max(t.start, pos);
    const e = Math.min(t.end, b);
    if (e <= s) continue;
    if (s > pos) out.push(text.slice(pos, s));
    out.push(h("mark", { class: "term", title: t.term ? `query term "${t.term}"` : null }, text.slice(s, e)));
    pos = e;
  }
  if (pos < b) out.push(text.slice(pos, b));
  return out;
}

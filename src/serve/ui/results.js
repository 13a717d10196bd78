// @ts-check
// One result column: its header, the per-language histogram, and the hits, each with its
// language badge, highlighted text, rank change against the other column and explain panel.
import { fmt, h, highlighted, isRtlLang } from "./dom.js";

/**
 * @typedef {import("./dom.js").Highlight} Highlight
 * @typedef {{ term: string, lang: string, tf: number, idf: number, score: number }} TermScore
 * @typedef {{ list: string, rank: number | null, contribution: number }} FusionPart
 * @typedef {{
 *   dense?: { score: number, rank: number | null },
 *   bm25?: { score: number, rank: number | null, terms?: TermScore[] },
 *   fusion?: { method: string, parts: FusionPart[] },
 * }} Explain
 * @typedef {{
 *   rank: number, id: string, score: number, lang: string, title: string | null, text: string,
 *   chunk?: { index: number, start: number, end: number }, metadata?: Record<string, unknown>,
 *   dense?: number, bm25?: number, explain?: Explain, highlights?: Highlight[],
 * }} Hit
 * @typedef {{
 *   hits: Hit[], query_langs: string[], warning: string | null,
 *   detected: { lang: string, confident: boolean } | null,
 * }} SearchResult
 */

/** |top 10 of a ∩ top 10 of b| / 10. */
export function overlapAt10(/** @type {Hit[]} */ a, /** @type {Hit[]} */ b) {
  const top = new Set(a.slice(0, 10).map((x) => x.id));
  return b.slice(0, 10).filter((x) => top.has(x.id)).length / 10;
}

/**
 * A result column.
 * @param {{ label: string, result?: SearchResult, error?: string, other?: SearchResult }} o
 *   other: the other column's result, for rank changes (comparison view only)
 */
export function column({ label, result, error, other }) {
  const col = h("section", { class: "column" }, h("h2", { class: "column-label" }, label));
  if (error !== undefined) {
    col.append(h("p", { class: "error" }, error));
    return col;
  }
  if (!result) return col;
  const queryLang = result.query_langs?.[0] ?? null;
  col.append(queryLine(result));
  if (result.warning) col.append(h("p", { class: "warning" }, result.warning));
  if (result.hits.length === 0) {
    col.append(h("p", { class: "empty" }, "No documents matched."));
    return col;
  }
  col.append(histogram(result.hits, queryLang));
  const otherRanks = other ? new Map(other.hits.map((x) => [x.id, x.rank])) : null;
  col.append(
    h(
      "ol",
      { class: "hits" },
      result.hits.map((x) => hit(x, queryLang, otherRanks)),
    ),
  );
  return col;
}

function queryLine(/** @type {SearchResult} */ r) {
  const langs = r.query_langs ?? [];
  const d = r.detected;
  return h(
    "p",
    { class: "query-langs" },
    `${r.hits.length} hit${r.hits.length === 1 ? "" : "s"} · query read as `,
    langs.length ? langs.map((l, i) => [i ? ", " : "", h("code", {}, l)]) : "–",
    d ? ` (detected ${d.lang}${d.confident ? "" : ", unsure"})` : "",
  );
}

/** Hits per language, longest bar first, coloured same-language vs cross-language. */
function histogram(/** @type {Hit[]} */ hits, /** @type {string | null} */ queryLang) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const x of hits) counts.set(x.lang, (counts.get(x.lang) ?? 0) + 1);
  const rows = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const same = counts.get(queryLang ?? "") ?? 0;
  const cross = hits.length - same;
  const max = rows[0][1];
  const bar = (/** @type {number} */ n, /** @type {string} */ cls) => {
    const b = h("span", { class: `fill ${cls}` });
    b.style.width = `${(100 * n) / max}%`;
    return h("span", { class: "bar" }, b);
  };
  return h(
    "figure",
    { class: "histogram" },
    h(
      "figcaption",
      {},
      h("span", { class: "key same" }, `same language ${same}`),
      " · ",
      h("span", { class: "key cross" }, `cross-language ${cross}`),
    ),
    rows.map(([lang, n]) =>
      h(
        "div",
        { class: "bar-row", "data-lang": lang },
        h("code", {}, lang),
        bar(n, lang === queryLang ? "same" : "cross"),
        h("span", { class: "n" }, n),
      ),
    ),
  );
}

/**
 * @param {Hit} x
 * @param {string | null} queryLang
 * @param {Map<string, number> | null} otherRanks
 */
function hit(x, queryLang, otherRanks) {
  const same = x.lang === queryLang;
  const dir = isRtlLang(x.lang) ? "rtl" : "auto";
  const lang = x.lang.replace("_", "-"); // arb_Arab -> arb-Arab, a BCP 47 tag for fonts and screen readers
  return h(
    "li",
    { class: "hit", "data-id": x.id },
    h(
      "div",
      { class: "hit-head" },
      h("span", { class: "rank" }, x.rank),
      otherRanks ? rankChange(x.rank, otherRanks.get(x.id)) : null,
      h(
        "span",
        {
          class: `badge ${same ? "same" : "cross"}`,
          title: same
            ? `same language as the query (${queryLang})`
            : `cross-language: the query was read as ${queryLang ?? "unknown"}`,
        },
        x.lang,
      ),
      x.title ? h("span", { class: "title", dir, lang }, x.title) : null,
      h("span", { class: "id", title: "document id" }, x.id),
      h("span", { class: "score", title: "score" }, fmt(x.score)),
    ),
    h("p", { class: "text", dir, lang }, highlighted(x.text, x.highlights)),
    explainPanel(x),
  );
}

/** ↑3: three places higher here than in the other column; "new": not in the other column. */
function rankChange(/** @type {number} */ rank, /** @type {number | undefined} */ other) {
  if (other === undefined) return h("span", { class: "delta new", title: "not in the other column" }, "new");
  const d = other - rank;
  const title = `rank ${other} in the other column`;
  if (d > 0) return h("span", { class: "delta up", title }, `↑${d}`);
  if (d < 0) return h("span", { class: "delta down", title }, `↓${-d}`);
  return h("span", { class: "delta same", title }, "=");
}

/** Collapsible: dense score, BM25 per-term contributions, fusion parts (what the server sent). */
function explainPanel(/** @type {Hit} */ x) {
  const e = x.explain ?? {};
  const dense = e.dense ?? (typeof x.dense === "number" ? { score: x.dense, rank: null } : null);
  const bm25 = e.bm25 ?? (typeof x.bm25 === "number" ? { score: x.bm25, rank: null } : null);
  if (!dense && !bm25 && !e.fusion) return null;
  const rank = (/** @type {number | null} */ r) => (r === null ? "not in that list" : `rank ${r}`);
  const table = (/** @type {string[]} */ head, /** @type {(string | number)[][]} */ rows) =>
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((c) => h("th", {}, c)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((r) =>
          h(
            "tr",
            {},
            r.map((c) => h("td", {}, c)),
          ),
        ),
      ),
    );
  return h(
    "details",
    { class: "explain" },
    h("summary", {}, "explain"),
    dense ? h("p", {}, h("b", {}, "dense "), `score ${fmt(dense.score)} · ${rank(dense.rank)}`) : null,
    bm25 ? h("p", {}, h("b", {}, "BM25 "), `score ${fmt(bm25.score)} · ${rank(bm25.rank)}`) : null,
    bm25?.terms?.length
      ? table(
          ["term", "lang", "tf", "idf", "score"],
          bm25.terms.map((t) => [t.term, t.lang, t.tf, fmt(t.idf), fmt(t.score)]),
        )
      : null,
    e.fusion
      ? [
          h("p", {}, h("b", {}, `fusion (${e.fusion.method})`), ` = ${fmt(x.score)}`),
          table(
            ["list", "rank", "contribution"],
            e.fusion.parts.map((p) => [p.list, p.rank ?? "–", fmt(p.contribution)]),
          ),
        ]
      : null,
  );
}

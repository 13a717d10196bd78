// @ts-check
// The page: loads the collections and models, keeps the form and the URL in step, runs a search
// (one configuration, or two side by side) and shows the results (results.js) and the stats of the
// collections searched. State lives in the form; the URL's query string mirrors it, so a link
// restores (and runs) the same search.
import { api, ApiError, getKey, setKey } from "./api.js";
import { fmtBytes, h, textDir } from "./dom.js";
import { column, overlapAt10 } from "./results.js";

/**
 * @typedef {{ collection: string, mode: string, fusion: string }} Config
 * @typedef {{ q: string, lang: string, k: number, filter: string[], a: Config, b: Config | null }} State
 * @typedef {{
 *   name: string, kind: "dense" | "bm25", model: string, dims: number | null, documents: number,
 *   chunks: number, languages: Record<string, number>, doc_score: { kind: string, top?: number },
 *   created: string, bytes: number,
 * }} CollectionInfo
 */

/** @template {HTMLElement} T @param {string} id @returns {T} */
const $ = (id) => /** @type {T} */ (document.getElementById(id));

/** @type {HTMLInputElement} */ const query = $("q");
/** @type {HTMLInputElement} */ const queryLang = $("qlang");
/** @type {HTMLInputElement} */ const k = $("k");
/** @type {HTMLInputElement} */ const compare = $("compare");
/** @type {HTMLInputElement} */ const keyInput = $("key");
const alertBox = $("alert");
const langFilter = $("lang-filter");
const results = $("results");
const overlap = $("overlap");

/** The controls of configuration A (left column) and B (right column, when comparing). */
const controls = {
  a: { collection: $("c"), mode: $("mode"), fusion: $("fusion") },
  b: { collection: $("c2"), mode: $("mode2"), fusion: $("fusion2") },
};

/** @type {Map<string, CollectionInfo>} */
let collections = new Map();
/** Searches started: an answer to an older one is dropped. */
let started = 0;

// --- state <-> form <-> URL ---

/** @returns {State} */
function readForm() {
  const config = (/** @type {typeof controls.a} */ c) => ({
    collection: /** @type {HTMLSelectElement} */ (c.collection).value,
    mode: /** @type {HTMLSelectElement} */ (c.mode).value,
    fusion: /** @type {HTMLSelectElement} */ (c.fusion).value,
  });
  return {
    q: query.value.trim(),
    lang: queryLang.value.trim() || "auto",
    k: Math.max(1, Math.min(1000, Math.trunc(Number(k.value)) || 10)),
    filter: [...langFilter.querySelectorAll("input:checked")].map(
      (i) => /** @type {HTMLInputElement} */ (i).value,
    ),
    a: config(controls.a),
    b: compare.checked ? config(controls.b) : null,
  };
}

/** @param {State} s */
function toUrl(s) {
  const p = new URLSearchParams();
  p.set("q", s.q);
  p.set("c", s.a.collection);
  p.set("mode", s.a.mode);
  if (s.a.mode === "hybrid") p.set("fusion", s.a.fusion);
  if (s.lang !== "auto") p.set("lang", s.lang);
  if (s.k !== 10) p.set("k", String(s.k));
  if (s.filter.length) p.set("f", s.filter.join(","));
  if (s.b) {
    p.set("c2", s.b.collection);
    p.set("mode2", s.b.mode);
    if (s.b.mode === "hybrid") p.set("fusion2", s.b.fusion);
  }
  return `?${p}`;
}

/** Puts the URL's state into the form (collections must be loaded). */
function fromUrl() {
  const p = new URLSearchParams(location.search);
  query.value = p.get("q") ?? "";
  query.dir = textDir(query.value);
  queryLang.value = p.get("lang") ?? "auto";
  k.value = p.get("k") ?? "10";
  compare.checked = p.has("c2");
  setSelect(controls.a.collection, p.get("c"));
  setSelect(controls.b.collection, p.get("c2") ?? p.get("c"));
  setSelect(controls.a.mode, p.get("mode"));
  setSelect(controls.a.fusion, p.get("fusion"));
  setSelect(controls.b.mode, p.get("mode2"));
  setSelect(controls.b.fusion, p.get("fusion2"));
  const missing = [p.get("c"), p.get("c2")].filter((c) => c && !collections.has(c));
  if (missing.length)
    showAlert(`The link names collection "${missing[0]}", which this server does not have.`);
  collectionsChanged(p.get("f")?.split(",").filter(Boolean) ?? []);
}

function setSelect(/** @type {HTMLElement} */ el, /** @type {string | null} */ value) {
  const select = /** @type {HTMLSelectElement} */ (el);
  if (value !== null && [...select.options].some((o) => o.value === value)) select.value = value;
}

// --- collections, models, stats ---

async function loadCollections() {
  try {
    const [{ collections: list }, models] = await Promise.all([
      api("/collections"),
      api("/v1/models").catch(() => null),
    ]);
    hideAlert();
    collections = new Map(list.map((/** @type {CollectionInfo} */ c) => [c.name, c]));
    $("models").replaceChildren(
      models?.data?.length
        ? `served models: ${models.data.map((/** @type {{id: string}} */ m) => m.id).join(", ")}`
        : "",
    );
    for (const c of [controls.a, controls.b])
      c.collection.replaceChildren(
        ...list.map((/** @type {CollectionInfo} */ x) => h("option", { value: x.name }, x.name)),
      );
    if (list.length === 0) {
      showAlert(
        "This server has no collections yet: create one with xlir index NAME --model ... --input FILE.",
      );
      return false;
    }
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 503) setTimeout(start, 2000); // models still loading
    showError(e);
    return false;
  }
}

/** After a collection choice: modes it allows, the languages to filter by, the stats. */
function collectionsChanged(/** @type {string[]} */ keepChecked = readForm().filter) {
  const used = [controls.a, ...(compare.checked ? [controls.b] : [])];
  for (const c of [controls.a, controls.b]) {
    const info = collections.get(/** @type {HTMLSelectElement} */ (c.collection).value);
    const mode = /** @type {HTMLSelectElement} */ (c.mode);
    // a lexical collection answers bm25 only
    for (const o of mode.options) o.disabled = info?.kind === "bm25" && o.value !== "bm25";
    if (mode.selectedOptions[0]?.disabled) mode.value = "bm25";
    /** @type {HTMLElement} */ (c.fusion.closest("label")).hidden = mode.value !== "hybrid";
  }
  // B's controls are greyed out until "Compare with" is ticked (the legend's checkbox stays usable)
  /** @type {HTMLFieldSetElement} */ ($("config-b")).disabled = !compare.checked;
  const infos = [...new Set(used.map((c) => /** @type {HTMLSelectElement} */ (c.collection).value))].flatMap(
    (name) => collections.get(name) ?? [],
  );
  // the filter offers every language of the collections searched, most documents first (the count:
  // the most documents one of them has in it, so comparing a collection with itself shows its own)
  /** @type {Map<string, number>} */
  const langs = new Map();
  for (const info of infos)
    for (const [l, n] of Object.entries(info.languages)) langs.set(l, Math.max(langs.get(l) ?? 0, n));
  for (const l of keepChecked) if (!langs.has(l)) langs.set(l, 0);
  const sorted = [...langs].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  langFilter.replaceChildren(
    ...sorted.map(([l, n]) =>
      h(
        "label",
        {},
        h("input", { type: "checkbox", value: l, checked: keepChecked.includes(l) }),
        h("code", {}, l),
        h("span", { class: "n" }, n),
      ),
    ),
  );
  $("lang-codes").replaceChildren(
    h("option", { value: "auto" }),
    ...sorted.map(([l]) => h("option", { value: l })),
  );
  $("stats").replaceChildren(...infos.map(statsPanel));
}

function statsPanel(/** @type {CollectionInfo} */ c) {
  const langs = Object.entries(c.languages).sort((x, y) => y[1] - x[1]);
  const max = langs[0]?.[1] ?? 1;
  const row = (/** @type {string} */ term, /** @type {unknown} */ value) => [
    h("dt", {}, term),
    h("dd", {}, String(value)),
  ];
  return h(
    "section",
    { class: "panel stats", "data-collection": c.name },
    h("h2", {}, c.name, " ", h("span", { class: "kind" }, c.kind)),
    h(
      "dl",
      {},
      row("model", c.model),
      c.dims ? row("dimensions", c.dims) : null,
      row("documents", c.documents.toLocaleString("en")),
      row("chunks", c.chunks.toLocaleString("en")),
      row("languages", langs.length),
      row(
        "document score",
        c.doc_score?.kind === "sum" ? `sum of top ${c.doc_score.top}` : (c.doc_score?.kind ?? "max"),
      ),
      row("created", new Date(c.created).toLocaleDateString("en-CA")),
      row("size", fmtBytes(c.bytes)),
    ),
    h(
      "div",
      { class: "lang-counts" },
      langs.map(([l, n]) => {
        const fill = h("span", { class: "fill" });
        fill.style.width = `${(100 * n) / max}%`;
        return h(
          "div",
          { class: "bar-row" },
          h("code", {}, l),
          h("span", { class: "bar" }, fill),
          h("span", { class: "n" }, n),
        );
      }),
    ),
  );
}

// --- search ---

/** Runs the form's search (both configurations when comparing) and shows it; `push`: a new history entry. */
async function search(push = true) {
  const s = readForm();
  if (!s.q || !s.a.collection) return;
  const url = toUrl(s);
  if (url !== location.search) history[push ? "pushState" : "replaceState"](null, "", url);
  document.title = `${s.q} · xlir`;
  const n = ++started;
  results.setAttribute("aria-busy", "true");
  const configs = s.b ? [s.a, s.b] : [s.a];
  const answers = await Promise.all(
    configs.map((c) =>
      api(`/collections/${encodeURIComponent(c.collection)}/search`, {
        query: s.q,
        mode: c.mode,
        ...(c.mode === "hybrid" ? { fusion: c.fusion } : {}),
        k: s.k,
        lang: s.lang,
        ...(s.filter.length ? { filter: { lang: s.filter } } : {}),
        explain: true,
        highlight: true,
      }).then(
        (result) => ({ result, error: undefined }),
        (/** @type {Error} */ e) => ({ result: undefined, error: e }),
      ),
    ),
  );
  if (n !== started) return; // a later search is under way
  results.removeAttribute("aria-busy");
  const failed = answers.find((x) => x.error)?.error;
  if (failed instanceof ApiError && failed.status === 401) showError(failed);
  else hideAlert();
  const label = (/** @type {Config} */ c) =>
    `${c.collection} · ${c.mode}${c.mode === "hybrid" ? ` (${c.fusion})` : ""}`;
  const [a, b] = answers;
  results.classList.toggle("compare", Boolean(b));
  results.replaceChildren(
    ...answers.map((x, i) =>
      column({
        label: label(configs[i]),
        result: x.result,
        error: x.error?.message,
        other: b ? answers[1 - i].result : undefined,
      }),
    ),
  );
  overlap.hidden = !(b && a.result && b.result);
  if (b && a.result && b.result) {
    const o = overlapAt10(a.result.hits, b.result.hits);
    overlap.replaceChildren(
      h("b", {}, `overlap@10: ${o.toFixed(2)}`),
      ` — ${Math.round(o * 10)} of the top 10 documents are in both columns`,
    );
  }
  document.body.dataset.searches = String(n); // searches shown (tests wait on it)
}

// --- messages and the API key ---

function showAlert(/** @type {string} */ message) {
  alertBox.replaceChildren(message);
  alertBox.hidden = false;
}

function hideAlert() {
  alertBox.hidden = true;
  alertBox.replaceChildren();
}

/** The server's message; on 401 also the key field, focused. */
function showError(/** @type {unknown} */ e) {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ApiError && e.status === 401) {
    showAlert(`${message}. Enter the server's API key above.`);
    keyInput.focus();
  } else showAlert(message);
}

// --- wiring ---

async function start() {
  if (await loadCollections()) {
    fromUrl();
    if (query.value.trim()) await search(false);
  }
}

$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  search();
});
$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setKey(keyInput.value.trim());
  start();
});
query.addEventListener("input", () => (query.dir = textDir(query.value)));
// a changed option re-runs the search there is
for (const c of [controls.a, controls.b]) {
  c.collection.addEventListener("change", () => {
    collectionsChanged();
    search();
  });
  for (const el of [c.mode, c.fusion])
    el.addEventListener("change", () => {
      collectionsChanged();
      search();
    });
}
compare.addEventListener("change", () => {
  if (compare.checked) {
    // a start: the same collection, dense against hybrid
    const a = readForm().a;
    setSelect(controls.b.collection, a.collection);
    const lexical = collections.get(a.collection)?.kind === "bm25";
    setSelect(controls.b.mode, lexical ? "bm25" : a.mode === "hybrid" ? "dense" : "hybrid");
  }
  collectionsChanged();
  search();
});
for (const el of [langFilter, queryLang, k]) el.addEventListener("change", () => search());
window.addEventListener("popstate", () => {
  fromUrl();
  if (query.value.trim()) search(false);
});

keyInput.value = getKey();
start();

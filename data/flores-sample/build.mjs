// Rebuilds passages.jsonl from the FLORES-200 devtest copy in ../shared/data/flores200 (see
// README.md here): the first 150 articles, each as one passage in two of ten languages.
//   node data/flores-sample/build.mjs [path/to/flores200]
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const flores = resolve(process.argv[2] ?? join(here, "..", "..", "..", "shared", "data", "flores200"));
// five pairs of languages, ten scripts' worth of variety; article i goes to LANGS[i % 10] and LANGS[(i + 5) % 10]
const LANGS = [
  "eng_Latn",
  "rus_Cyrl",
  "hin_Deva",
  "zho_Hans",
  "arb_Arab",
  "spa_Latn",
  "ell_Grek",
  "tha_Thai",
  "jpn_Jpan",
  "heb_Hebr",
];
const NO_SPACES = new Set(["zho_Hans", "jpn_Jpan"]);
const ARTICLES = 150;

const meta = readFileSync(join(flores, "metadata_devtest.tsv"), "utf8")
  .trim()
  .split("\n")
  .slice(1)
  .map((l) => l.split("\t"));
const lines = Object.fromEntries(
  LANGS.map((l) => [l, readFileSync(join(flores, "devtest", `${l}.devtest`), "utf8").split("\n")]),
);
// an article = a run of consecutive sentences with the same source URL
const articles = [];
meta.forEach(([url, domain, topic], i) => {
  if (i === 0 || meta[i - 1][0] !== url) articles.push({ url, domain, topic, lines: [] });
  articles.at(-1).lines.push(i);
});
const out = [];
for (let a = 0; a < ARTICLES; a++) {
  const { url, domain, topic, lines: idx } = articles[a];
  for (const lang of [LANGS[a % 10], LANGS[(a + 5) % 10]]) {
    const text = idx.map((i) => lines[lang][i].trim()).join(NO_SPACES.has(lang) ? "" : " ");
    out.push({
      id: `${String(a).padStart(3, "0")}-${lang}`,
      lang,
      text,
      metadata: { article: a, domain, topic, url },
    });
  }
}
out.sort((x, y) => (x.id < y.id ? -1 : 1));
writeFileSync(join(here, "passages.jsonl"), out.map((o) => JSON.stringify(o)).join("\n") + "\n");
console.log(`${out.length} passages from ${ARTICLES} articles in ${LANGS.length} languages`);

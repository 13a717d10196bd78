// `xlir index`, `xlir search` and `xlir collections` as a user runs them: the four input formats,
// language detection, human and JSON output, deleting documents and whole collections.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { Collection } from "../../src/index/collection.ts";
import { countDocuments, readDocuments } from "../../src/index/ingest.ts";
import { runXlir } from "../helpers/cli.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cli-index-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const xlir = (...args: string[]) => runXlir(args, { env: { ...process.env, XLIR_HOME: home } });

// the same three facts in the four formats
const beir = join(root, "corpus.jsonl");
writeFileSync(
  beir,
  [
    {
      _id: "1",
      title: "Volcanoes",
      text: "Mount Etna is the most active volcano in Europe.",
      metadata: { topic: "geo" },
    },
    {
      _id: "2",
      title: "Vulkane",
      text: "Der Ätna ist der aktivste Vulkan Europas und liegt auf Sizilien.",
      metadata: { topic: "geo" },
    },
    {
      _id: "3",
      title: "Пчёлы",
      text: "Пчёлы собирают нектар с цветов и делают из него мёд.",
      metadata: { topic: "bio" },
    },
  ]
    .map((o) => JSON.stringify(o))
    .join("\n") + "\n",
);
const tsv = join(root, "docs.tsv");
writeFileSync(
  tsv,
  "id\ttext\nt1\tMount Etna is the most active volcano in Europe.\nt2\tLes abeilles fabriquent le miel à partir du nectar des fleurs.\n",
);
const folder = join(root, "notes");
mkdirSync(join(folder, "sub"), { recursive: true });
writeFileSync(
  join(folder, "etna.md"),
  "# Etna\n\nMount Etna erupts often; its lava flows reach the villages below.\n",
);
writeFileSync(join(folder, "sub", "bees.txt"), "Bees make honey from the nectar of flowers.\n");
writeFileSync(join(folder, "skip.csv"), "not,indexed\n");

it("reads BEIR, TSV and folders with ids, titles, metadata and sources", async () => {
  const all = async (p: string) => {
    const out = [];
    for await (const d of readDocuments(p)) out.push(d);
    return out;
  };
  const b = await all(beir);
  assert.deepEqual(b[0], {
    id: "1",
    text: b[0].text,
    title: "Volcanoes",
    lang: undefined,
    metadata: { topic: "geo" },
    source: `${beir}:1`,
  });
  const t = await all(tsv);
  assert.deepEqual(
    t.map((d) => [d.id, d.source]),
    [
      ["t1", `${tsv}:2`],
      ["t2", `${tsv}:3`],
    ],
  );
  const f = await all(folder);
  assert.deepEqual(
    f.map((d) => [d.id, d.title]),
    [
      ["etna.md", "Etna"],
      ["sub/bees.txt", "bees"],
    ],
  );
  assert.deepEqual(await Promise.all([beir, tsv, folder].map((p) => countDocuments(p))), [3, 2, 2]);
});

it("indexes every format into one collection, detects languages, and searches across them", () => {
  for (const input of [beir, tsv, folder]) {
    const r = xlir("index", "mixed", "--model", "bm25", "--input", input);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /documents read into "mixed": \d+ added, 0 updated, 0 unchanged/);
  }
  const info = JSON.parse(xlir("collections", "info", "mixed", "--json").stdout);
  assert.equal(info.documents, 7);
  assert.equal(info.languages.eng_Latn, 4);
  assert.deepEqual([info.languages.deu_Latn, info.languages.rus_Cyrl, info.languages.fra_Latn], [1, 1, 1]);

  const json = xlir("search", "mixed", "active volcano", "--lang", "en", "--json");
  assert.equal(json.status, 0, json.stderr);
  const hits = json.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(hits.map((h) => h.id).sort(), ["1", "t1"]);
  for (const h of hits) for (const key of ["rank", "score", "id", "lang", "text"]) assert.ok(key in h, key);
  assert.equal(hits[0].rank, 1);

  const human = xlir("search", "mixed", "honey nectar", "--lang", "en", "--k", "2");
  assert.match(
    human.stdout,
    /^ {2}1 {2}\d+\.\d{4} {2}sub\/bees\.txt {2}\[eng_Latn\] {2}bees\n {5}Bees make honey from the nectar of flowers\.\n/,
  );
  const geo = xlir(
    "search",
    "mixed",
    "Vulkan",
    "--lang",
    "de",
    "--filter",
    "topic=geo",
    "--filter",
    "lang=de",
    "--json",
  );
  assert.deepEqual(
    geo.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id),
    ["2"],
  );
});

it("updates, deletes documents, and lists and deletes collections", () => {
  const changed = join(root, "changed.tsv");
  writeFileSync(changed, "t1\tMount Etna is quiet this year.\n");
  assert.match(xlir("index", "mixed", "--input", changed).stdout, /0 added, 1 updated, 0 unchanged/);
  const hit = JSON.parse(xlir("search", "mixed", "quiet", "--lang", "en", "--json").stdout);
  assert.equal(hit.id, "t1");
  const del = xlir("index", "mixed", "--delete", "t1", "2", "zzz");
  assert.equal(del.status, 0, del.stderr);
  assert.match(del.stdout, /deleted 2 document\(s\) from "mixed"; not found: zzz/);
  assert.equal(xlir("search", "mixed", "quiet", "--lang", "en", "--json").stdout, "");
  assert.match(xlir("collections", "list").stdout, /^mixed\t5 documents\tbm25 \(lexical only\)\n$/);
  assert.match(xlir("collections", "delete", "mixed").stdout, /deleted collection "mixed"/);
  assert.match(xlir("collections", "list").stdout, /^no collections in /);
});

it("--dtype int8 is recorded by the collection, and its searches embed queries in int8 too", async () => {
  const model = tinyBertDir({ parent: root, seed: 5 });
  const input = join(root, "int8.jsonl");
  writeFileSync(
    input,
    ["the cat sat on the mat", "a dog ran far", "hello world"]
      .map((text, i) => JSON.stringify({ id: `d${i}`, text, lang: "en" }))
      .join("\n") + "\n",
  );
  const r = xlir("index", "q8", "--model", model, "--input", input, "--dtype", "int8", "--threads", "1");
  assert.equal(r.status, 0, r.stderr);
  const col = await Collection.open("q8", { home });
  const spec = col.manifest.encoder;
  await col.close();
  assert.equal(spec.kind === "dense" && spec.dtype, "int8");
  const score = (...extra: string[]) => {
    const s = xlir("search", "q8", "cat on a mat", "--json", "--k", "1", "--threads", "1", ...extra);
    assert.equal(s.status, 0, s.stderr);
    return JSON.parse(s.stdout).score as number;
  };
  const recorded = score();
  assert.equal(recorded, score("--dtype", "int8"));
  assert.notEqual(recorded, score("--dtype", "float32"));
});

// Aggretriever models through the command line, on the tiny fixture model whose tokenizer reads the
// word "w<id>" as token <id> (and keeps the case, so lowercasing is the model's doing): token sets
// made by `xlir agg-vocab`, the three lexical modes in `xlir embed`, a target-mode collection that
// encodes each document with its own language's set, `--agg-target` choosing the query's set, and
// the refusals: a language without a set (before anything is written), a set that would replace
// the stored one or was made with another tokenizer, another mode or casing than the collection's.
// The main runs are child processes, as a user runs them; the rest run in this process (faster).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Command } from "commander";
import { aggVocabCommand } from "../../src/cli/agg-vocab.ts";
import { embedCommand } from "../../src/cli/embed.ts";
import { indexCommand } from "../../src/cli/index.ts";
import { searchCommand } from "../../src/cli/search.ts";
import { Collection } from "../../src/index/collection.ts";
import { search } from "../../src/index/search.ts";
import { aggFixtureFolder, aggFixtureSets } from "../helpers/aggretriever.ts";
import { inProcess, XLIR_BIN } from "../helpers/cli.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cli-agg-"));
const home = join(root, "home");
const model = aggFixtureFolder(aggFixtureSets()[0]);
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(model, { recursive: true, force: true });
});
const tokenizerJson = join(model, "tokenizer.json");
const tokenizer = JSON.parse(readFileSync(tokenizerJson, "utf8"));
writeFileSync(
  tokenizerJson,
  JSON.stringify({ ...tokenizer, normalizer: { ...tokenizer.normalizer, lowercase: false } }),
);

const DIM = 32; // the fixture's semantic 8 + agg 24
const SEMANTIC = 8;

const jsonl = (name: string, rows: object[]) => {
  const file = join(root, name);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return file;
};
const corpus = jsonl("corpus.jsonl", [
  { id: "h1", text: "W17 w42 w88", lang: "hi" },
  { id: "h2", text: "w20 w21 w22", lang: "hi" },
  { id: "e1", text: "w5 w6 w7", lang: "en" },
  { id: "e2", text: "w50 w51 w52", lang: "en" },
]);
const more = jsonl("more.jsonl", [
  { id: "h3", text: "w23 w24", lang: "hi" },
  { id: "d1", text: "w90 w91", lang: "de" },
]);
const sets = { hi: join(root, "hi.json"), en: join(root, "en.json"), de: join(root, "de.json") };
const query = "w17 w42 w88";

/** The ids of the "w<id>" words of the texts, lowercased: what the sets must hold. */
const idsOf = (...texts: string[]) =>
  [
    ...new Set(texts.flatMap((t) => [...t.toLowerCase().matchAll(/\bw(\d+)\b/g)].map((m) => Number(m[1])))),
  ].sort((a, b) => a - b);

/** `xlir ...args` as a child process with this test's home. */
function xlir(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [XLIR_BIN, ...args], { env: { ...process.env, XLIR_HOME: home } });
    let [stdout, stderr] = ["", ""];
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
const ok = async (...args: string[]) => {
  const r = await xlir(...args);
  assert.equal(r.status, 0, `xlir ${args.join(" ")}: ${r.stderr}`);
  return r;
};
const refused = (cmd: () => Command, args: string[], message: RegExp) =>
  assert.rejects(inProcess(cmd(), args), message);

let runs = 0;
/** `xlir embed` of the texts (in this process, written to a file): one vector per text. */
async function embed(texts: string[], ...extra: string[]): Promise<number[][]> {
  const input = join(root, `texts-${++runs}.txt`);
  const output = join(root, `vectors-${runs}.jsonl`);
  writeFileSync(input, texts.join("\n") + "\n");
  await inProcess(embedCommand(), ["--model", model, "--input", input, "--output", output, ...extra]);
  return readFileSync(output, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).embedding);
}

/** The stored vector of each document (one chunk each). */
async function docVectors(name: string): Promise<Map<string, number[]>> {
  const col = await Collection.open(name, { home });
  try {
    const v = await col.view(true);
    return new Map(
      v.chunkIds.map((id, c) => [id.split("#")[0], [...v.vectors!.subarray(c * DIM, (c + 1) * DIM)]]),
    );
  } finally {
    await col.close();
  }
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const hits = async (...args: string[]) =>
  (await ok("search", "c", query, "--json", "--threads", "1", ...args)).stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { id: string; score: number });

describe("xlir agg-vocab", () => {
  it("writes the lowercased token ids of the documents in --lang, for this model", async () => {
    const r = await ok("agg-vocab", "--model", model, "--corpus", corpus, "--lang", "hi", "--out", sets.hi);
    assert.equal(r.stdout, `wrote ${sets.hi}: 6 token ids of hin_Deva from 2 document(s)\n`);
    const vocab = (...args: string[]) => inProcess(aggVocabCommand(), ["--model", model, ...args]);
    await vocab("--corpus", corpus, "--lang", "eng_Latn", "--out", sets.en);
    await vocab("--corpus", more, "--lang", "de", "--out", sets.de);
    const [hi, en, de] = [sets.hi, sets.en, sets.de].map((f) => JSON.parse(readFileSync(f, "utf8")));
    assert.deepEqual(
      { ...hi, tokenizer: undefined },
      {
        format: "xlir-agg-vocab/1",
        lang: "hin_Deva",
        tokenizer: undefined,
        lowercase: true,
        size: 6,
        ids: idsOf("W17 w42 w88", "w20 w21 w22"),
      },
    );
    assert.deepEqual(en.ids, idsOf("w5 w6 w7", "w50 w51 w52"));
    assert.deepEqual([de.lang, de.ids], ["deu_Latn", idsOf("w90 w91")]);
    assert.match(hi.tokenizer, /^sha256:/);
    assert.equal(en.tokenizer, hi.tokenizer);
  });
});

describe("xlir embed", () => {
  it("gives vectors of the semantic + agg width that differ by mode in their lexical part only", async () => {
    const texts = [query, "w5 w6 w7"];
    const [mlm, self, target] = await Promise.all([
      embed(texts, "--agg-mode", "mlm"),
      embed(texts, "--agg-mode", "self"),
      embed(texts, "--agg-mode", "target", "--agg-vocab", sets.hi),
    ]);
    for (const v of [...mlm, ...self, ...target]) assert.equal(v.length, DIM);
    for (const [a, b] of [
      [mlm, self],
      [mlm, target],
      [self, target],
    ])
      for (let i = 0; i < texts.length; i++) {
        assert.deepEqual(a[i].slice(0, SEMANTIC), b[i].slice(0, SEMANTIC));
        assert.notDeepEqual(a[i].slice(SEMANTIC), b[i].slice(SEMANTIC));
      }
  });

  it("refuses Aggretriever options for another model, and target mode without a token set", async () => {
    const bert = tinyBertDir({ parent: root });
    const args = ["--model", bert, "--query-prefix", "", "--passage-prefix", "", "--input", corpus];
    await refused(
      embedCommand,
      [...args, "--agg-mode", "mlm"],
      /--agg-mode applies to Aggretriever model folders only/,
    );
    await refused(embedCommand, [...args, "--no-lowercase"], /--no-lowercase applies to Aggretriever/);
    await refused(
      embedCommand,
      ["--model", model, "--agg-mode", "target", "--input", corpus],
      /--agg-mode target .* give --agg-vocab FILE/,
    );
  });
});

describe("a collection in target mode", () => {
  it("encodes each document with its language's token set, and search finds it", async () => {
    await ok(
      "index",
      "c",
      "--model",
      model,
      "--agg-mode",
      "target",
      "--agg-vocab",
      sets.hi,
      sets.en,
      "--input",
      corpus,
    );
    const stored = (lang: string) =>
      JSON.parse(readFileSync(join(home, "collections", "c", "agg-vocab", `${lang}.json`), "utf8"));
    assert.deepEqual(stored("hin_Deva"), JSON.parse(readFileSync(sets.hi, "utf8")));
    assert.deepEqual(stored("eng_Latn"), JSON.parse(readFileSync(sets.en, "utf8")));
    const docs = await docVectors("c");
    const target = ["--agg-mode", "target", "--agg-vocab", sets.hi, sets.en];
    const [withHi, withEn] = await Promise.all([
      embed(["W17 w42 w88", "w5 w6 w7"], ...target, "--lang", "hi"),
      embed(["W17 w42 w88", "w5 w6 w7"], ...target, "--lang", "en"),
    ]);
    docs.get("h1")!.forEach((x, k) => near(x, withHi[0][k], `h1[${k}]`));
    docs.get("e1")!.forEach((x, k) => near(x, withEn[1][k], `e1[${k}]`));
    assert.notDeepEqual(withHi[0], withEn[0]);
    assert.equal((await hits("--lang", "hi", "--k", "1"))[0].id, "h1");
  });

  it("encodes the query with the set --agg-target picks: the query's language, English or the documents'", async () => {
    const target = ["--agg-mode", "target", "--agg-vocab", sets.hi, sets.en];
    const [[qHi], [qEn]] = await Promise.all([
      embed([query], ...target, "--lang", "hi"),
      embed([query], ...target, "--lang", "en"),
    ]);
    const docs = await docVectors("c");
    const [own, en] = await Promise.all([
      hits("--lang", "hi", "--filter", "lang=hi"),
      hits("--lang", "hi", "--filter", "lang=hi", "--agg-target", "en"),
    ]);
    const col = await Collection.open("c", { home });
    const corpusHi = await search(col, query, {
      lang: "en",
      filter: ["lang=hi"],
      aggTarget: "corpus",
    }).finally(() => col.close());
    for (const h of own) near(h.score, dot(qHi, docs.get(h.id)!), `query set, ${h.id}`);
    for (const h of en) near(h.score, dot(qEn, docs.get(h.id)!), `English set, ${h.id}`);
    for (const h of corpusHi) near(h.score, dot(qHi, docs.get(h.id)!), `documents' set, ${h.id}`);
    assert.notDeepEqual(
      own.map((h) => h.score),
      en.map((h) => h.score),
    );
    await refused(
      searchCommand,
      ["c", query, "--agg-target", "corpus", "--home", home],
      /--agg-target corpus: the documents searched are in eng_Latn, hin_Deva; pick one language with --filter lang=CODE/,
    );
  });

  it("refuses a document language without a set before anything is written, and takes the set later", async () => {
    const count = async (name: string) => {
      const col = await Collection.open(name, { home });
      const n = await col.store.countDocs();
      await col.close();
      return n;
    };
    // one document a batch: the Hindi one first would be committed, were languages not checked first
    await refused(
      indexCommand,
      ["c", "--input", more, "--batch-size", "1", "--home", home],
      /no token set for deu_Latn \(a document at .*more\.jsonl:2\); make one per language with xlir agg-vocab .*--lang deu_Latn/,
    );
    assert.equal(await count("c"), 4);
    await refused(
      indexCommand,
      [
        "new",
        "--model",
        model,
        "--agg-mode",
        "target",
        "--agg-vocab",
        sets.hi,
        "--input",
        corpus,
        "--home",
        home,
      ],
      /no token set for eng_Latn/,
    );
    assert.equal(await Collection.exists("new", { home }), false);
    await inProcess(indexCommand(), ["c", "--input", more, "--agg-vocab", sets.de, "--home", home]);
    assert.equal(await count("c"), 6);
  });

  it("refuses a set that replaces a stored one or was made with another tokenizer", async () => {
    const en = JSON.parse(readFileSync(sets.en, "utf8"));
    const fewer = jsonl("en-fewer.json", [{ ...en, ids: en.ids.slice(1), size: en.size - 1 }]);
    const other = jsonl("hi-other.json", [
      { ...JSON.parse(readFileSync(sets.hi, "utf8")), tokenizer: "sha256:0" },
    ]);
    await refused(
      indexCommand,
      ["c", "--agg-vocab", fewer, "--home", home],
      /collection "c" already has a token set for eng_Latn \(6 ids\), and .*en-fewer\.json differs from it/,
    );
    await refused(
      indexCommand,
      ["c", "--agg-vocab", other, "--home", home],
      /hi-other\.json was made with another tokenizer than/,
    );
  });

  it("refuses another mode or casing than it was built with", async () => {
    await refused(
      indexCommand,
      ["c", "--agg-mode", "self", "--input", more, "--home", home],
      /cannot index into collection "c" with --agg-mode self: its documents were encoded with --agg-mode target/,
    );
    await refused(
      searchCommand,
      ["c", query, "--agg-mode", "mlm", "--home", home],
      /cannot search collection "c" with --agg-mode mlm/,
    );
    await refused(
      searchCommand,
      ["c", query, "--no-lowercase", "--home", home],
      /cannot search collection "c" with --no-lowercase: its documents were encoded with --lowercase/,
    );
  });
});

// `xlir eval run xquad-r` with a tiny random mAggretriever (German and English, the first questions):
// the task runs in each lexical mode with the mode in the report and its own cache entries, and
// target mode reads queries with the token set --agg-target names, the sets built from the task's
// own sentences (checked against scores recomputed from a separately loaded encoder).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { evalRunCommand } from "../../src/cli/eval-run.ts";
import { Encoder } from "../../src/encode/encoder.ts";
import { loadLareqa } from "../../src/eval/datasets/lareqa.ts";
import { readRun } from "../../src/eval/trec-run.ts";
import { inProcess } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/shared.ts";
import { tinyAggDir } from "../helpers/aggretriever.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const data = join(sharedDir, "data");
const tmp = mkdtempSync(join(tmpdir(), "xlir-eval-agg-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const N = 5;
const PAIRS = ["de-de", "de-en", "en-de", "en-en"];
const [de, en] = loadLareqa(join(data, "xquad-r"), ["de", "en"]);
const cache = join(tmp, "cache");
let model: string;

interface Metrics {
  modelKey: string;
  agg: { mode: string; lowercase: boolean; target: string | null } | null;
  settings: { id: string; numQueries: number; all: Record<string, number> }[];
  cache: { hits: number; misses: number; textsEncoded: number; modelLoaded: boolean };
}
const metrics = (out: string) => JSON.parse(readFileSync(join(tmp, out, "metrics.json"), "utf8")) as Metrics;
const runText = (out: string, pair: string) => readFileSync(join(tmp, out, "runs", `${pair}.trec`), "utf8");
/** `xlir eval run xquad-r` on German and English, the first N questions, one shared cache. */
const evalRun = (out: string, ...extra: string[]) =>
  inProcess(evalRunCommand(), [
    "xquad-r",
    "--model",
    model,
    "--data",
    data,
    "--langs",
    "de,en",
    "--limit",
    String(N),
    "--output",
    join(tmp, out),
    "--cache",
    cache,
    ...extra,
  ]);

before(() => {
  const texts = [de, en].flatMap((l) => [
    ...l.questions.map((q) => q.text),
    ...l.candidates.map((c) => c.text),
  ]);
  model = tinyAggDir(wordsOf(texts, 2000), { d: 16, layers: 1, parent: tmp });
});

describe("xlir eval run xquad-r --agg-mode", () => {
  const first = new Map<string, Metrics>();

  for (const mode of ["mlm", "self", "target"]) {
    it(`${mode}: every pair scored, the mode in the report, nothing reused from another mode's cache`, async () => {
      const { out } = await evalRun(mode, "--agg-mode", mode);
      const m = metrics(mode);
      assert.deepEqual(m.settings.map((s) => s.id).sort(), PAIRS);
      for (const s of m.settings) {
        assert.equal(s.numQueries, N);
        assert.ok(Number.isFinite(s.all.map_cut_100), `${mode} ${s.id}`);
      }
      assert.deepEqual(m.agg, { mode, lowercase: true, target: mode === "target" ? "query" : null });
      assert.match(out, new RegExp(`^- lexical prediction: ${mode} `, "m"));
      assert.match(out, /\| X_Q = X_C \(2 pairs\) \| \d+\.\d \|/);
      // Two question sets and two sentence sets, all encoded: another mode's vectors never match.
      assert.deepEqual([m.cache.hits, m.cache.misses], [0, 4]);
      for (const [other, o] of first) assert.notEqual(m.modelKey, o.modelKey, `${mode} vs ${other}`);
      first.set(mode, m);
    });
  }

  it("the three modes rank differently, and a rerun of one is read from the cache alone", async () => {
    const runs = ["mlm", "self", "target"].map((mode) => runText(mode, "de-de"));
    assert.equal(new Set(runs).size, 3);
    await evalRun("mlm-again", "--agg-mode", "mlm");
    const m = metrics("mlm-again");
    assert.deepEqual([m.cache.hits, m.cache.misses, m.cache.modelLoaded], [4, 0, false]);
    assert.deepEqual(m.settings, first.get("mlm")!.settings);
  });

  it("--no-lowercase is a key of its own", async () => {
    const { out } = await evalRun("self-cased", "--agg-mode", "self", "--no-lowercase");
    assert.equal(metrics("self-cased").cache.misses, 4);
    assert.match(out, /^- lowercase: no$/m);
  });
});

describe("xlir eval run xquad-r --agg-mode target --agg-target", () => {
  it("en: German questions read with English's token set; English questions and all sentences as with query", async () => {
    const { out } = await evalRun("to-en", "--agg-mode", "target", "--agg-target", "en");
    const m = metrics("to-en");
    assert.match(out, /^- query token set: English \(--agg-target en\)$/m);
    // Only the German questions read as English are new vectors.
    assert.deepEqual([m.cache.hits, m.cache.misses, m.cache.textsEncoded], [3, 1, N]);
    for (const pair of ["en-de", "en-en"]) assert.equal(runText("to-en", pair), runText("target", pair));
    for (const pair of ["de-de", "de-en"]) assert.notEqual(runText("to-en", pair), runText("target", pair));
  });

  it("the scores are dot products of vectors read with the token sets of the languages' sentences", async () => {
    const sentences = (l: typeof de) => l.candidates.map((c) => c.text);
    const enc: Encoder = await Encoder.load(model, {
      agg: { mode: "target", vocab: (lang) => enc.tokenSet(sentences(lang === "de" ? de : en)) },
    });
    try {
      const { run } = readRun(join(tmp, "to-en", "runs", "de-en.trec"));
      const byId = new Map(en.candidates.map((c) => [c.id, c.text]));
      for (const q of de.questions.slice(0, N)) {
        const top = [...run.get(q.id)!].slice(0, 3);
        const qv = await enc.embed([q.text], { role: "query", lang: "en" });
        const dv = await enc.embed(
          top.map(([id]) => byId.get(id)!),
          { role: "passage", lang: "en" },
        );
        const dim = qv.dims[1];
        top.forEach(([id, score], k) => {
          let dot = 0;
          for (let j = 0; j < dim; j++) dot += qv.data[j] * dv.data[k * dim + j];
          assert.ok(
            Math.abs(dot - score) < 1e-4 * Math.max(1, Math.abs(dot)),
            `${q.id} ${id}: ${dot} vs ${score}`,
          );
        });
      }
    } finally {
      await enc.close();
    }
  });

  it("corpus: each question read with its sentences' language's set", async () => {
    const { out } = await evalRun("to-corpus", "--agg-mode", "target", "--agg-target", "corpus");
    assert.match(out, /^- query token set: the documents' language \(--agg-target corpus\)$/m);
    // English questions read as German are the one new set; German as English comes from the en run.
    assert.deepEqual([metrics("to-corpus").cache.hits, metrics("to-corpus").cache.misses], [5, 1]);
    assert.equal(runText("to-corpus", "de-en"), runText("to-en", "de-en"));
    assert.equal(runText("to-corpus", "de-de"), runText("target", "de-de"));
    assert.notEqual(runText("to-corpus", "en-de"), runText("target", "en-de"));
  });
});

describe("xlir eval run: Aggretriever options where they cannot apply", () => {
  const fails = async (args: string[], message: RegExp) => {
    await assert.rejects(
      inProcess(evalRunCommand(), [
        ...args,
        "--data",
        data,
        "--langs",
        "de,en",
        "--limit",
        "2",
        "--no-cache",
      ]),
      (e: Error) => {
        assert.match(e.message, message);
        assert.ok(!e.message.includes("\n"), e.message);
        return true;
      },
    );
  };

  it("names the option and the fix, before anything is encoded", async () => {
    const e5 = wordE5Dir(["the"], { parent: tmp });
    const out = ["--output", join(tmp, "bad")];
    await fails(
      ["xquad-r", "--model", e5, "--agg-mode", "self", ...out],
      /^--agg-mode applies to Aggretriever model folders only: .* is not one; leave it out$/,
    );
    await fails(
      ["xquad-r", "--model", "bm25", "--agg-target", "en", "--no-lowercase", ...out],
      /^--no-lowercase, --agg-target apply to Aggretriever model folders only: bm25 is not one; leave them out$/,
    );
    await fails(
      ["xquad-r", "--model", model, "--agg-mode", "self", "--agg-target", "en", ...out],
      /add --agg-mode target/,
    );
    await fails(
      ["xquad-r-pooled", "--model", model, "--agg-mode", "target", "--agg-target", "corpus", ...out],
      /--agg-target corpus: .* 2 languages, so there is no one corpus language; use --agg-target query or en$/,
    );
  });
});

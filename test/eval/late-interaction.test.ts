// `eval run` with a ColBERT-XM model: XQuAD-R questions ranked by exact MaxSim with each language's
// adapter (the fixture's tiny checkpoint, its tokenizer the data's most frequent words). Each run's
// best passage and score are recomputed here by brute force from the task's texts; a language the
// model has no adapter for is refused with the adapters it has, unless a fallback is given.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { ColbertModel, maxSim } from "../../src/encode/colbert.ts";
import { runBenchmark } from "../../src/eval/benchmark.ts";
import { loadTask } from "../../src/eval/tasks/registry.ts";
import { readRun } from "../../src/eval/trec-run.ts";
import { writeRobertaWordTokenizer } from "../../src/text/wordpiece-json.ts";
import { fixturesRoot, sharedDir } from "../helpers/shared.ts";
import { wordsOf } from "../helpers/tiny-models.ts";

const data = join(sharedDir, "data");
const root = mkdtempSync(join(tmpdir(), "xlir-eval-colbert-"));
after(() => rmSync(root, { recursive: true, force: true }));
const fixture = join(fixturesRoot, "colbert-xm");
const modelDir = join(root, "colbert-xm");
cpSync(fixture, modelDir, { recursive: true });
const V = (JSON.parse(readFileSync(join(fixture, "config.json"), "utf8")) as { vocab_size: number })
  .vocab_size;
const opts = { data, langs: ["de", "en"], limit: 4 };

it("ranks by exact MaxSim with each language's adapter", async () => {
  const task = await loadTask("xquad-r", opts);
  const texts = task.settings.flatMap((s) => [...s.queries, ...s.docs].flatMap((set) => set.texts));
  writeRobertaWordTokenizer(modelDir, wordsOf(texts, V - 5), { mask: true });
  const output = join(root, "out");
  await runBenchmark({ task: "xquad-r", model: modelDir, output, cacheDir: null, ...opts });
  const model = await ColbertModel.load(modelDir);
  try {
    for (const id of ["de-en", "en-de"]) {
      const s = task.settings.find((x) => x.id === id)!;
      const { run } = readRun(join(output, "runs", `${id}.trec`));
      const docs = (
        await Promise.all(s.docs.map((set) => model.encodeDocuments(set.texts, { lang: set.lang })))
      ).flat();
      const docIds = s.docs.flatMap((set) => set.ids);
      const [qs] = s.queries;
      const qv = await model.encodeQueries(qs.texts, { lang: qs.lang });
      qs.ids.forEach((qid, i) => {
        const scores = docs.map((d) => maxSim(qv[i], d));
        const best = Math.max(...scores);
        const ranked = [...run.get(qid)!.entries()].sort((a, b) => b[1] - a[1]);
        assert.ok(Math.abs(ranked[0][1] - best) < 1e-4, `${id} ${qid}: ${ranked[0][1]} vs ${best}`);
        assert.equal(scores[docIds.indexOf(ranked[0][0])], best);
      });
    }
  } finally {
    await model.close();
  }
});

it("refuses a language without an adapter, naming them, unless a fallback is given", async () => {
  const es = { ...opts, langs: ["es", "en"], limit: 2 };
  await assert.rejects(
    runBenchmark({ task: "xquad-r", model: modelDir, output: join(root, "es"), cacheDir: null, ...es }),
    /en_XX, de_DE, hi_IN, sw_KE/,
  );
  const r = await runBenchmark({
    task: "xquad-r",
    model: modelDir,
    output: join(root, "es2"),
    cacheDir: null,
    adapterFallback: "en_XX",
    ...es,
  });
  assert.ok(r.metrics.some((m) => m.id === "es-en"));
});

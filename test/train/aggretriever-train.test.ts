// mAggretriever training in the paper's shape, small enough for CI: a tiny XLM-R masked LM (no heads,
// as a user starts from xlm-roberta-base; built to predict its input tokens, as pretrained masked
// LMs do at unmasked positions, see helpers/aggretriever.ts) trained through `xlir train --head agg` with the
// Aggretriever loss on English XQuAD-R questions and their answer sentences (../shared/data/xquad-r),
// one hard negative from the same article; every 10th question is held out. English retrieval over
// the held-out answer sentences must improve and the loss must fall; Spanish questions against
// Spanish answer sentences (same held-out ids, never trained on) are measured before and after, as
// the paper's zero-shot claim, and reported only. A second run trains only the heads in self mode.
// Before and after are both measured by Encoder.load on model folders: the untrained one is
// initAggretriever's, which the CLI's fresh heads equal (same seed).

import { AGG_VOCAB_FORMAT, type AggVocab, writeAggVocab } from "../../src/encode/agg-vocab-file.ts";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import type { AggMode } from "../../src/models/aggretriever.ts";
import {
  initAggretriever,
  openAggretriever,
  readAggretrieverFolder,
} from "../../src/models/aggretriever-folder.ts";
import { fineTune } from "../../src/train/fine-tune.ts";
import { readTrainLog } from "../../src/train/loop.ts";
import { type RankFigures, rankFigures } from "../../src/train/validate.ts";
import { readSafetensors } from "../../src/weights/safetensors.ts";
import { wordMlmDir } from "../helpers/aggretriever.ts";
import { runXlir } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/shared.ts";
import { tinyBertDir, wordsOf } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-agg-train-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface QA {
  id: string;
  question: string;
  answers: { answer_start: number }[];
}
interface Squad {
  data: { paragraphs: { sentences: string[]; sentence_breaks: number[][]; qas: QA[] }[] }[];
}
interface Example {
  query: string;
  positive: string;
  negatives: string[];
}

/** Each question with its answer sentence; negatives: the paragraph's other sentences, then the next paragraphs'. */
function examples(lang: string): Example[] {
  const squad = JSON.parse(readFileSync(join(sharedDir, "data", "xquad-r", `${lang}.json`), "utf8")) as Squad;
  const out: Example[] = [];
  for (const a of squad.data)
    a.paragraphs.forEach((p, pi) => {
      const next = [1, 2].flatMap((k) => a.paragraphs[(pi + k) % a.paragraphs.length].sentences);
      for (const qa of p.qas) {
        const at = qa.answers[0].answer_start;
        const i = Math.max(
          0,
          p.sentence_breaks.findIndex(([s, e]) => at >= s && at < e),
        );
        out.push({
          query: qa.question,
          positive: p.sentences[i],
          negatives: [...p.sentences.filter((_, j) => j !== i), ...next].slice(0, 7),
        });
      }
    });
  return out;
}

// XQuAD-R is parallel: the same position is the same question in every language
const heldOut = (_: unknown, i: number) => i % 10 === 0;
const en = examples("en");
const es = examples("es");
const enTrain = en.filter((e, i) => !heldOut(e, i));
const enVal = en.filter(heldOut);
const esVal = es.filter(heldOut);
const jsonl = (name: string, rows: object[]) => {
  const f = join(root, name);
  writeFileSync(f, rows.map((r) => JSON.stringify({ ...r, lang: "en" })).join("\n") + "\n");
  return f;
};
const trainFile = jsonl("train.jsonl", enTrain);
const valFile = jsonl(
  "val.jsonl",
  enVal.map(({ query, positive }) => ({ query, positive })),
);
const words = wordsOf(
  [...en, ...es].flatMap((e) => [e.query, e.positive]),
  3000,
);
const mlm = wordMlmDir(words, { parent: root, d: 32 });
const SIZES = { semanticDim: 16, aggDim: 256 };
let untrainedDir: string | undefined;
/** The tiny LM with fresh heads of seed 42, where `xlir train --head agg` starts by default. */
function untrainedFolder(): string {
  if (!untrainedDir) {
    untrainedDir = join(root, "untrained");
    initAggretriever(mlm, untrainedDir, SIZES);
  }
  return untrainedDir;
}

/** MRR and R@1 of `val`'s queries over its distinct answer sentences, as a user's Encoder embeds them. */
async function measure(dir: string, mode: AggMode, val: Example[]): Promise<RankFigures> {
  const enc = await Encoder.load(dir, { threads: 2, agg: { mode } });
  try {
    const passages = [...new Set(val.map((e) => e.positive))];
    const q = await enc.embed(
      val.map((e) => e.query),
      { role: "query" },
    );
    const p = await enc.embed(passages, { role: "passage" });
    return rankFigures(
      q.data,
      p.data,
      q.dims[1],
      val.map((e) => passages.indexOf(e.positive)),
      val.map(() => "x"),
    ).all;
  } finally {
    await enc.close();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test("xlir train --head agg from a plain masked LM: English retrieval improves, the loss falls; zero-shot Spanish reported", async (t) => {
  const untrained = untrainedFolder();
  const rows: string[] = [];
  const row = async (
    mode: AggMode,
    trainable: string,
    before: string,
    after: string,
  ): Promise<{ en: [RankFigures, RankFigures] }> => {
    const [e0, e1, s0, s1] = [
      await measure(before, mode, enVal),
      await measure(after, mode, enVal),
      await measure(before, mode, esVal),
      await measure(after, mode, esVal),
    ];
    const f = (x: RankFigures) => `${(100 * x.mrr).toFixed(1)} / ${(100 * x.r1).toFixed(1)}`;
    rows.push(`| ${mode} | ${trainable} | ${f(e0)} | ${f(e1)} | ${f(s0)} | ${f(s1)} |`);
    return { en: [e0, e1] };
  };

  // 1. the whole model in mlm mode, as the paper, through the CLI; fresh heads of seed 42
  const out = join(root, "mlm-full");
  const r = runXlir(
    [
      "train",
      "--head",
      "agg",
      "--model",
      mlm,
      "--semantic-dim",
      "16",
      "--agg-dim",
      "256",
      "--data",
      trainFile,
      "--val",
      valFile,
      "--output",
      out,
      "--negatives",
      "1",
      "--steps",
      "40",
      "--batch-size",
      "8",
      "--lr",
      "1e-3",
      "--max-length",
      "64",
      "--eval-every",
      "40",
      "--threads",
      "2",
      "--json",
    ],
    { timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const start = lines[0].start as { trainable: string; batchSize: number };
  assert.equal(start.trainable, "aggretriever mlm, full, fresh heads");
  const losses = lines.filter((l) => "loss" in l).map((l) => l.loss as number);
  assert.equal(losses.length, 40);
  assert.ok(
    losses.every((x) => Number.isFinite(x)),
    `non-finite loss: ${losses}`,
  );
  // batches of 8 make single steps noisy: compare the first and last five
  assert.ok(
    mean(losses.slice(-5)) < mean(losses.slice(0, 5)),
    `loss did not fall: ${losses.map((x) => x.toFixed(2)).join(" ")}`,
  );
  const run = JSON.parse(readFileSync(join(out, "training", "run.json"), "utf8"));
  assert.deepEqual(run.loss, { kind: "aggretriever", semanticDim: 16 });
  assert.equal(run.weightDecay, 0);
  const folder = readAggretrieverFolder(out);
  assert.deepEqual([folder.spec.semanticDim, folder.spec.aggDim, folder.defaults.mode], [16, 256, "mlm"]);
  folder.close();
  const mlmRow = await row("mlm", "full", untrained, out);

  // 2. heads only, self prediction (no MLM head), the library call; the LM must stay as it was
  const selfOut = join(root, "self-heads");
  const s = await fineTune({
    model: untrained,
    data: [trainFile],
    val: [valFile],
    output: selfOut,
    agg: { mode: "self" },
    trainable: "heads",
    negatives: 1,
    steps: 40,
    batchSize: 8,
    lr: 1e-2,
    maxLength: 64,
    evalEvery: 40,
    threads: 2,
  });
  assert.equal(s.steps, 40);
  const selfLosses = readTrainLog(join(selfOut, "training"))
    .filter((l) => "loss" in l)
    .map((l) => l.loss);
  assert.ok(selfLosses.every((x) => Number.isFinite(x)));
  assert.ok(mean(selfLosses.slice(-5)) < mean(selfLosses.slice(0, 5)), `${selfLosses}`);
  const lm0 = readSafetensors(join(untrained, "model.safetensors"));
  const lm1 = readSafetensors(join(selfOut, "model.safetensors"));
  for (const [k, x] of lm0) assert.deepEqual(lm1.get(k)!.data, x.data, `${k} trained with --trainable heads`);
  const h0 = readSafetensors(join(untrained, "pooler.safetensors")).get("linear_q.weight")!.data;
  const h1 = readSafetensors(join(selfOut, "pooler.safetensors")).get("linear_q.weight")!.data;
  assert.ok(
    h1.some((v, i) => v !== h0[i]),
    "the [CLS] projection trained",
  );
  assert.equal(readAggretrieverFolder(selfOut).defaults.mode, "self");
  const selfRow = await row("self", "heads", untrained, selfOut);

  for (const line of [
    "held-out XQuAD-R retrieval, MRR / R@1 (%), trained on English only",
    "| mode | trainable | en before | en after | es before (zero-shot) | es after (zero-shot) |",
    "|---|---|---|---|---|---|",
    ...rows,
  ])
    t.diagnostic(line);
  for (const [name, { en: e }] of [
    ["mlm full", mlmRow],
    ["self heads", selfRow],
  ] as const)
    assert.ok(
      e[1].mrr >= e[0].mrr + 0.05,
      `${name}: English MRR ${e[0].mrr.toFixed(3)} -> ${e[1].mrr.toFixed(3)}`,
    );

  // the trained folder embeds like any model: [semantic ; agg*] of 16 + 256, dot-product scale
  const enc = await Encoder.load(out, { threads: 1 });
  assert.equal(enc.aggMode, "mlm");
  const v = await enc.embed(["Who won Super Bowl 50?"], { role: "query" });
  assert.deepEqual(v.dims, [1, 272]);
  assert.ok(v.data.every(Number.isFinite) && v.data.some((x) => x !== 0));
  await enc.close();
});

/** A token set file's content for `ids`, made with `enc`'s tokenizer and casing. */
const tokenSet = (enc: Encoder, ids: number[]): AggVocab => ({
  format: AGG_VOCAB_FORMAT,
  lang: "eng_Latn",
  tokenizer: enc.tokenizerFingerprint,
  lowercase: enc.settings.lowerCase,
  size: ids.length,
  ids,
});

test("xlir train --head agg, target mode: the training language's token set from --agg-vocab", async () => {
  const enc = await Encoder.load(untrainedFolder(), { threads: 1 });
  const ids = enc.tokenSet(enTrain.flatMap((e) => [e.query, e.positive, ...e.negatives.slice(0, 1)]));
  await enc.close();
  const vocabFile = join(root, "en-tokens.json");
  writeAggVocab(vocabFile, tokenSet(enc, ids));
  const out = join(root, "target");
  const r = runXlir([
    "train",
    "--head",
    "agg",
    "--model",
    mlm,
    "--agg-mode",
    "target",
    "--agg-vocab",
    vocabFile,
    "--trainable",
    "last:1",
    "--semantic-dim",
    "16",
    "--agg-dim",
    "256",
    "--data",
    trainFile,
    "--val-split",
    "0",
    "--output",
    out,
    "--steps",
    "2",
    "--max-length",
    "32",
    "--threads",
    "2",
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /training aggretriever target, last:1, fresh heads/);
  const trained = await Encoder.load(out, { threads: 1, agg: { vocab: () => ids } });
  assert.equal(trained.aggMode, "target");
  const v = await trained.embed(["Who won Super Bowl 50?"], { role: "query" });
  assert.deepEqual(v.dims, [1, 272]);
  assert.ok(v.data.every(Number.isFinite));
  await trained.close();
});

test("Aggretriever training refuses what it cannot do, before writing anything", async () => {
  const base = { data: [trainFile], output: join(root, "never"), steps: 1, batchSize: 8, threads: 1 };
  const refused = async (cfg: Parameters<typeof fineTune>[0], message: RegExp) =>
    assert.rejects(fineTune(cfg), (e: Error) => {
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  await refused(
    { ...base, model: mlm, head: "agg", loss: "infonce" },
    /^--loss infonce: Aggretriever models train with the Aggretriever loss/,
  );
  await refused(
    { ...base, model: mlm, head: "agg", similarity: "cos" },
    /^--similarity does not apply to the Aggretriever loss/,
  );
  await refused(
    { ...base, model: mlm, head: "agg", agg: { mode: "target" } },
    /^--agg-mode target: training needs the training language's token set/,
  );
  const bad = join(root, "bad-tokens.json");
  writeFileSync(bad, JSON.stringify({ tokens: [1, 2] }));
  await refused(
    { ...base, model: mlm, head: "agg", agg: { mode: "target", vocab: bad } },
    /bad-tokens\.json: format is undefined, not a token set .*; make it with xlir agg-vocab/,
  );
  const enc = await Encoder.load(untrainedFolder(), { threads: 1 });
  const tokens = join(root, "tokens.json");
  writeAggVocab(tokens, tokenSet(enc, [4, 5, 6]));
  const otherCase = join(root, "tokens-cased.json");
  writeAggVocab(otherCase, { ...tokenSet(enc, [4, 5, 6]), lowercase: false });
  await enc.close();
  await refused(
    { ...base, model: mlm, head: "agg", agg: { mode: "target", vocab: otherCase } },
    /tokens-cased\.json was made from cased text/,
  );
  await refused(
    { ...base, model: untrainedFolder(), agg: { mode: "self", vocab: tokens } },
    /^--agg-vocab is the token set of target mode, and this run trains in self mode/,
  );
  await refused(
    { ...base, model: untrainedFolder(), agg: { semanticDim: 32 } },
    /^--semantic-dim: .* is an Aggretriever folder whose heads fix the sizes/,
  );
  await refused(
    { ...base, model: mlm, agg: { mode: "self" } },
    /^--agg-mode applies to Aggretriever models; .* is not one \(train a masked LM as one with --head agg\)/,
  );
  await refused(
    { ...base, model: mlm, loss: "aggretriever" },
    /^--loss aggretriever needs an Aggretriever model/,
  );
  // a BERT without its MLM head, through the CLI: one line naming the model and what it needs
  const bert = tinyBertDir({ parent: root });
  const r = runXlir([
    "train",
    "--head",
    "agg",
    "--model",
    bert,
    "--data",
    trainFile,
    "--output",
    base.output,
  ]);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^xlir: .*: no masked-LM head \(cls\.predictions\.\* missing\); Aggretriever starts from a …ForMaskedLM checkpoint/m,
  );
  assert.throws(() => readFileSync(join(base.output, "training", "run.json")), /ENOENT/);
});

test("initAggretriever: heads initialised as nn.Linear, the same as training's fresh heads of that seed", () => {
  const dir = untrainedFolder();
  const written = readAggretrieverFolder(dir);
  const fresh = openAggretriever(mlm, SIZES);
  const other = openAggretriever(mlm, { ...SIZES, seed: 7 });
  try {
    const bound = 1 / Math.sqrt(32);
    for (const [name, x] of written.heads) {
      assert.deepEqual(fresh.heads.get(name)!.data, x.data, `${name}: written != in memory`);
      assert.notDeepEqual(other.heads.get(name)!.data, x.data, `${name}: the seed changes nothing`);
      assert.ok(x.data.every((v) => Math.abs(v) <= bound));
    }
    // uniform on ±bound: variance bound²/3
    const w = written.heads.get("pooler.linear_q.weight")!.data;
    assert.deepEqual(written.heads.get("pooler.linear_q.weight")!.dims, [16, 32]);
    const variance = w.reduce((a, v) => a + v * v, 0) / w.length;
    assert.ok(Math.abs(variance / ((bound * bound) / 3) - 1) < 0.15, `variance ${variance}`);
    assert.deepEqual(written.defaults, { mode: "mlm", lowercase: true });
  } finally {
    for (const f of [written, fresh, other]) f.close();
  }
  assert.throws(() => initAggretriever(mlm, dir), /exists and is not empty; give a new folder/);
  assert.throws(() => initAggretriever(dir, join(root, "again")), /is already an Aggretriever folder/);
});

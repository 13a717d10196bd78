// Fine-tuning in the paper's shape, small enough for CI: XQuAD-R questions in four high-resource
// languages (N pairs each) and two low-resource ones (0.3 N each), each paired with its English
// answer sentence (../shared/data/xquad-r), a tiny random BERT trained with InfoNCE and with
// weighted InfoNCE (w 2 for hi, th). Validation questions are held out by id in every language.
// Also: the exported folder loads as an Encoder; `xlir train` killed with SIGKILL resumes to the
// same weights; bad data stops before anything is written.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { fineTune, splitByLanguage } from "../../src/train/fine-tune.ts";
import type { PairExample } from "../../src/train/pairs.ts";
import { readSafetensors } from "../../src/weights/safetensors.ts";
import { runXlir, runXlirKilled } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/shared.ts";
import { distill } from "../../src/train/distill.ts";
import { tinyBertDir, wordE5Dir, wordNllbDir, wordsOf } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-finetune-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Squad {
  data: { paragraphs: { sentences: string[]; sentence_breaks: number[][]; qas: QA[] }[] }[];
}
interface QA {
  id: string;
  question: string;
  answers: { answer_start: number }[];
}
const xquad = (lang: string): Squad =>
  JSON.parse(readFileSync(join(sharedDir, "data", "xquad-r", `${lang}.json`), "utf8"));
const answers = new Map<string, string>();
for (const a of xquad("en").data)
  for (const p of a.paragraphs)
    for (const qa of p.qas) {
      const at = qa.answers[0].answer_start;
      const i = p.sentence_breaks.findIndex(([s, e]) => at >= s && at < e);
      answers.set(qa.id, p.sentences[Math.max(0, i)]);
    }

const HIGH = ["de", "es", "ru", "vi"];
const LOW = ["hi", "th"];
const N = 240;
const train: string[] = [];
const val: string[] = [];
for (const lang of [...HIGH, ...LOW]) {
  const qas = xquad(lang).data.flatMap((a) => a.paragraphs.flatMap((p) => p.qas));
  const row = (qa: QA) => JSON.stringify({ query: qa.question, positive: answers.get(qa.id), lang });
  // every 10th question (the same ids in every language) is held out
  const n = LOW.includes(lang) ? Math.round(0.3 * N) : N;
  qas
    .filter((_, i) => i % 10 !== 0)
    .slice(0, n)
    .forEach((qa) => train.push(row(qa)));
  qas
    .filter((_, i) => i % 10 === 0)
    .slice(0, 60)
    .forEach((qa) => val.push(row(qa)));
}
const trainFile = join(root, "train.jsonl");
const valFile = join(root, "val.jsonl");
writeFileSync(trainFile, train.join("\n") + "\n");
writeFileSync(valFile, val.join("\n") + "\n");
const allTexts = [...train, ...val].flatMap((l) => Object.values(JSON.parse(l)) as string[]);

test("InfoNCE and weighted InfoNCE raise validation MRR well above the untrained model", async (t) => {
  const model = wordE5Dir(wordsOf(allTexts, 6000), { parent: root, d: 64 });
  const table: string[] = [
    "| language | untrained | InfoNCE | weighted InfoNCE (hi, th: 2) |",
    "|---|---|---|---|",
  ];
  const runs = [];
  for (const loss of ["infonce", "weighted-infonce"] as const) {
    const r = await fineTune({
      model,
      data: [trainFile],
      val: [valFile],
      output: join(root, loss),
      loss,
      weighting:
        loss === "weighted-infonce" ? { kind: "table", table: { hin_Deva: 2, tha_Thai: 2 } } : undefined,
      trainable: "full",
      batchSize: 32,
      epochs: 5,
      lr: 2e-3,
      evalEvery: 20,
      threads: 2,
      warn: () => {},
    });
    assert.equal(r.trainSize, 4 * N + 2 * 72);
    const untrained = r.evals[0];
    const best = r.evals.find((e) => e.step === r.bestStep)!;
    assert.equal(untrained.step, 0);
    assert.ok(
      best.mrr >= 2 * untrained.mrr && best.mrr >= untrained.mrr + 0.1,
      `${loss}: validation MRR ${untrained.mrr} -> ${best.mrr}`,
    );
    if (loss === "weighted-infonce") {
      assert.deepEqual(r.langWeights, {
        deu_Latn: 1,
        hin_Deva: 2,
        rus_Cyrl: 1,
        spa_Latn: 1,
        tha_Thai: 2,
        vie_Latn: 1,
      });
      const saved = JSON.parse(readFileSync(join(root, loss, "training", "lang_weights.json"), "utf8"));
      assert.deepEqual(saved.weights, r.langWeights);
    }
    runs.push({ untrained, best });
  }
  const pct = (x: number) => (100 * x).toFixed(1);
  for (const lang of ["deu_Latn", "spa_Latn", "rus_Cyrl", "vie_Latn", "hin_Deva", "tha_Thai", ""]) {
    const k = lang ? `mrr.${lang}` : "mrr";
    table.push(
      `| ${lang || "all"} | ${pct(runs[0].untrained[k])} | ${pct(runs[0].best[k])} | ${pct(runs[1].best[k])} |`,
    );
  }
  t.diagnostic(`validation MRR (%) per query language\n${table.join("\n")}`);

  // the exported folder is a sentence-transformers model with the trained weights and prefixes
  const enc = await Encoder.load(join(root, "infonce"), { threads: 1, warn: () => {} });
  assert.equal(enc.settings.promptSource, "sentence-transformers");
  assert.deepEqual(enc.settings.prompts, { query: "query: ", passage: "passage: " });
  const v = await enc.embed(["Wer gewann den Super Bowl?"], { role: "query" });
  assert.ok(Math.abs(Math.hypot(...v.data) - 1) < 1e-5);
  await enc.close();
});

test("a stratified split keeps every language on both sides, seeded", () => {
  const ex = (lang: string, i: number): PairExample => ({
    query: `q${i}`,
    positive: `p${i}`,
    negatives: [],
    lang,
    where: `f:${i}`,
  });
  const all = [
    ...Array.from({ length: 20 }, (_, i) => ex("a", i)),
    ...Array.from({ length: 5 }, (_, i) => ex("b", 20 + i)),
  ];
  const s = splitByLanguage(all, 0.1, 1);
  assert.deepEqual(
    [s.val.filter((e) => e.lang === "a").length, s.val.filter((e) => e.lang === "b").length],
    [2, 1],
  );
  assert.equal(s.train.length, 22);
  assert.deepEqual(splitByLanguage(all, 0.1, 1), s);
  assert.notDeepEqual(splitByLanguage(all, 0.1, 2).val, s.val);
});

test("xlir train: killed with SIGKILL mid-way, --resume gives the same weights as a straight run", async () => {
  const model = tinyBertDir({ parent: root, d: 16 });
  const words = ["cat", "dog", "sat", "on", "mat", "ran", "far", "big", "small"];
  const s = (i: number, n: number) =>
    Array.from({ length: n }, (_, j) => words[(i * 5 + j * 2) % words.length]).join(" ");
  const pairs = join(root, "tiny.jsonl");
  writeFileSync(
    pairs,
    Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({
        query: s(i, 2),
        positive: s(i + 1, 5),
        negatives: [s(i + 4, 4)],
        lang: i % 3 ? "de" : "sw",
      }),
    ).join("\n") + "\n",
  );
  const args = (out: string) => [
    "train",
    "--model",
    model,
    "--data",
    pairs,
    "--output",
    out,
    "--loss",
    "weighted-infonce",
    "--lang-weighting",
    "loss-based",
    "--trainable",
    "lora",
    "--lora-r",
    "4",
    "--lora-alpha",
    "8",
    "--lora-dropout",
    "0.1",
    "--steps",
    "12",
    "--batch-size",
    "6",
    "--grad-cache",
    "5",
    "--lr",
    "1e-2",
    "--checkpoint-every",
    "3",
    "--eval-every",
    "4",
    "--threads",
    "1",
    "--json",
  ];
  const straight = join(root, "straight");
  const resumed = join(root, "resumed");
  assert.equal(await runXlirKilled(args(straight)), 0);
  assert.equal(
    await runXlirKilled(args(resumed), `"step":7,"loss"`),
    null,
    "the first run must die by SIGKILL",
  );
  assert.ok(!existsSync(join(resumed, "model.safetensors")));
  assert.equal(
    await runXlirKilled(args(resumed)),
    1,
    "a half-trained run is not overwritten without --resume",
  );
  assert.equal(await runXlirKilled([...args(resumed), "--resume"]), 0);
  for (const f of ["model.safetensors", join("adapter", "adapter_model.safetensors")]) {
    const a = readSafetensors(join(straight, f));
    const b = readSafetensors(join(resumed, f));
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, `${f} ${k} differs after resume`);
  }
  const log = (dir: string) => readFileSync(join(dir, "training", "train_log.jsonl"), "utf8");
  const strip = (l: string) => l.replace(/,"elapsed_s":[^,}]+/g, "");
  assert.equal(strip(log(resumed)), strip(log(straight)));
});

test("xlir train: a malformed line stops with file:line before anything is written", () => {
  const bad = join(root, "bad.jsonl");
  writeFileSync(bad, '{"query": "a", "positive": "b"}\n{"query": "c"}\n');
  const out = join(root, "never");
  const r = runXlir(["train", "--model", tinyBertDir({ parent: root }), "--data", bad, "--output", out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^xlir: .*bad\.jsonl:2: no positive passage/m);
  assert.ok(!existsSync(out));
  const r2 = runXlir(["train", "--model", "x", "--data", bad, "--output", out, "--loss", "weighted-infonce"]);
  assert.match(r2.stderr, /^xlir: --loss weighted-infonce needs weights/m);
});

test("an NLLB-E5 folder fine-tunes its projection and LoRA and stays an NLLB-E5 folder", async () => {
  const words = wordsOf(allTexts, 2000);
  const e5 = wordE5Dir(words, { parent: root, d: 16 });
  const nllb = wordNllbDir(words, { parent: root, d: 16 });
  const english = join(root, "english.txt");
  writeFileSync(english, [...answers.values()].slice(0, 64).join("\n") + "\n");
  const base = join(root, "nllb-e5");
  const small = { batchSize: 8, projectionHidden: 32, lora: { r: 4, alpha: 8, dropout: 0 }, threads: 1 };
  await distill({ ...small, studentEncoder: nllb, teacher: e5, data: [english], steps: 2, output: base });
  const pairs = join(root, "de-hi.jsonl");
  writeFileSync(
    pairs,
    train
      .filter((l) => /"lang":"(de|hi)"/.test(l))
      .slice(0, 48)
      .join("\n") + "\n",
  );
  const out = join(root, "nllb-e5-tuned");
  const r = await fineTune({
    model: base,
    data: [pairs],
    output: out,
    batchSize: 8,
    steps: 3,
    lr: 1e-2,
    valSplit: 0.2,
    threads: 1,
  });
  assert.equal(r.steps, 3);
  assert.ok(existsSync(join(out, "nllb_e5.json")));
  const before = readSafetensors(join(base, "projection.safetensors")).get("proj.0.weight")!.data;
  const after = readSafetensors(join(out, "projection.safetensors")).get("proj.0.weight")!.data;
  assert.ok(
    after.some((v, i) => v !== before[i]),
    "the projection trained",
  );
  const enc = await Encoder.load(out, { threads: 1, warn: () => {} });
  const v = await enc.embed(["Wer gewann?"], { role: "query", lang: "deu_Latn" });
  assert.ok(Math.abs(Math.hypot(...v.data) - 1) < 1e-5);
  await enc.close();
});

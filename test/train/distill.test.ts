// NLLB-E5 distillation on tiny random models the test builds (NLLB-like d 48, E5-like d 32) and
// real English sentences (the eng side of ../shared/data/nllb-seed): the paper's MSE drives the
// held-out error down at least 10x with student/teacher cosine above 0.95; the exported folder
// loads as an Encoder in any language; a SIGKILLed run resumes to the very same weights.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { readNllbE5Folder } from "../../src/models/nllb-e5-folder.ts";
import { studentBatch, studentFeeds, studentGraph } from "../../src/models/nllb-e5.ts";
import { Session } from "../../src/tensor/session.ts";
import { distill, trainingDir } from "../../src/train/distill.ts";
import { readSafetensors } from "../../src/weights/safetensors.ts";
import { relateEmbeddings, wordE5Dir, wordNllbDir, wordsOf } from "../helpers/tiny-models.ts";
import { runXlirKilled } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/shared.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-distill-"));
after(() => rmSync(root, { recursive: true, force: true }));
const sentences = readFileSync(join(sharedDir, "data", "nllb-seed", "eng_Latn"), "utf8")
  .split("\n")
  .filter(Boolean)
  .slice(0, 400);
const words = wordsOf(sentences, 3000);
const e5 = wordE5Dir(words, { parent: root });
const nllb = wordNllbDir(words, { parent: root });
relateEmbeddings(e5, nllb);
const data = join(root, "eng.txt");
writeFileSync(data, sentences.join("\n") + "\n");
const tiny = {
  batchSize: 16,
  lr: 3e-3,
  projectionHidden: 256,
  lora: { r: 16, alpha: 32, dropout: 0.05 },
  evalSize: 64,
  threads: 1,
};

test("distillation drives held-out MSE down 10x and cosine above 0.95; the export loads and embeds any language", async () => {
  const output = join(root, "learned");
  const evals: { step: number; eval_mse: number; eval_cosine: number }[] = [];
  const r = await distill(
    { ...tiny, studentEncoder: nllb, teacher: e5, data: [data], steps: 600, output, evalEvery: 100 },
    { onEval: (e) => evals.push(e) },
  );
  assert.equal(r.interrupted, false);
  const first = evals[0];
  const last = evals.at(-1)!;
  assert.equal(first.step, 0);
  assert.ok(first.eval_mse / last.eval_mse >= 10, `held-out MSE ${first.eval_mse} -> ${last.eval_mse}`);
  assert.ok(last.eval_cosine > 0.95, `cosine ${last.eval_cosine}`);
  const log = readFileSync(join(trainingDir(output), "train_log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(log.filter((l) => "loss" in l).length, 600);
  assert.match(readFileSync(join(trainingDir(output), "loss.svg"), "utf8"), /^<svg[^>]*>[\s\S]*<polyline/);

  // the folder: merged LoRA, encoder-only NLLB, and it embeds like the student graph does
  assert.ok(existsSync(join(output, "nllb_e5.json")) && !existsSync(join(output, "adapter")));
  assert.ok(
    [...readSafetensors(join(output, "nllb", "model.safetensors")).keys()].every(
      (k) => !k.includes("decoder"),
    ),
  );
  const enc = await Encoder.load(output, { threads: 1 });
  assert.equal(enc.dim, 32);
  const text = sentences[399];
  const en = await enc.embed([text], { role: "query", lang: "eng_Latn" });
  const hi = await enc.embed([text], { role: "query", lang: "hin_Deva" });
  const passage = await enc.embed([text], { role: "passage", lang: "eng_Latn" });
  assert.ok(Math.abs(Math.hypot(...en.data) - 1) < 1e-5);
  assert.ok(
    en.data.some((v, i) => Math.abs(v - hi.data[i]) > 1e-4),
    "the language code must reach the model",
  );
  assert.ok(
    en.data.some((v, i) => Math.abs(v - passage.data[i]) > 1e-4),
    "the role prefix must reach the model",
  );
  // the Encoder's vector is the student's normalised H_S
  const loaded = readNllbE5Folder(output);
  const rows = enc.tokenize([text], { lang: "eng_Latn" });
  const s = await Session.create(studentGraph(loaded.parts, loaded.config.spec).graph, { threads: 1 });
  const hs = (await s.run(studentFeeds(studentBatch(rows, ["query"], loaded.config.spec, 1)))).embedding
    .data as Float32Array;
  const n = Math.hypot(...hs);
  hs.forEach((v, i) => assert.ok(Math.abs(v / n - en.data[i]) < 1e-5));
  // int8 runs the trained model too (NLLB, projection and E5 linears quantized)
  const int8 = await Encoder.load(output, { threads: 1, dtype: "int8" });
  const q = await int8.embed([text], { role: "query", lang: "eng_Latn" });
  const cos = q.data.reduce((acc, v, i) => acc + v * en.data[i], 0);
  assert.ok(cos > 0.999 && cos < 1 - 1e-7, `int8 cosine to float32 ${cos}`);
  await Promise.all([s.release(), enc.close(), int8.close()]);
  loaded.close();
});

test("an adapter export (--no-merge) gives the same vectors as the merged one", async () => {
  const merged = join(root, "merged");
  const adapter = join(root, "adapter");
  const cfg = { ...tiny, studentEncoder: nllb, teacher: e5, data: [data], steps: 20, lr: 2e-2 };
  await distill({ ...cfg, output: merged });
  await distill({ ...cfg, output: adapter, merge: false });
  assert.ok(existsSync(join(adapter, "adapter", "adapter_config.json")));
  const a = await Encoder.load(merged, { threads: 1 });
  const b = await Encoder.load(adapter, { threads: 1 });
  const va = await a.embed(sentences.slice(0, 4), { lang: "eng_Latn" });
  const vb = await b.embed(sentences.slice(0, 4), { lang: "eng_Latn" });
  va.data.forEach((v, i) => assert.ok(Math.abs(v - vb.data[i]) < 1e-5));
  await Promise.all([a.close(), b.close()]);
});

const runCli = (args: string[], killAtStep?: number) =>
  runXlirKilled(args, killAtStep === undefined ? undefined : `"step":${killAtStep},"loss"`);

for (const extra of [[], ["--cache-nllb", "--nllb-dtype", "int8"]])
  test(`a run killed with SIGKILL mid-way resumes to the same weights as a straight run ${extra.join(" ")}`, async () => {
    const args = (out: string) => [
      "distill",
      "--student-encoder",
      nllb,
      "--teacher",
      e5,
      "--data",
      data,
      "--steps",
      "30",
      "--output",
      out,
      "--batch-size",
      "8",
      "--lr",
      "1e-2",
      "--projection-hidden",
      "64",
      "--lora-r",
      "4",
      "--lora-alpha",
      "8",
      "--checkpoint-every",
      "4",
      "--eval-every",
      "10",
      "--eval-size",
      "16",
      "--threads",
      "1",
      "--json",
      ...extra,
    ];
    const straight = join(root, `straight${extra.length}`);
    const resumed = join(root, `resumed${extra.length}`);
    assert.equal(await runCli(args(straight)), 0);
    assert.equal(await runCli(args(resumed), 17), null, "the first run must die by SIGKILL");
    assert.ok(!existsSync(join(resumed, "nllb_e5.json")));
    // without --resume the half-trained run is refused, not overwritten
    assert.equal(await runCli(args(resumed)), 1);
    assert.equal(await runCli([...args(resumed), "--resume"]), 0);
    for (const f of ["projection.safetensors", join("e5", "model.safetensors")]) {
      const a = readSafetensors(join(straight, f));
      const b = readSafetensors(join(resumed, f));
      for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, `${f} ${k} differs after resume`);
    }
    const steps = readFileSync(join(trainingDir(resumed), "train_log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((l) => "loss" in l)
      .map((l) => l.step);
    assert.deepEqual(
      steps,
      Array.from({ length: 30 }, (_, i) => i + 1),
      "the log holds every step once",
    );
    // --cache-nllb keeps the NLLB states beside the checkpoint, where the resumed run found them
    assert.equal(existsSync(join(trainingDir(resumed), "nllb-cache")), extra.length > 0);
  });

test("bad inputs: missing data, no text column, wrong model families", async () => {
  const base = { ...tiny, studentEncoder: nllb, teacher: e5, steps: 2 };
  await assert.rejects(
    distill({ ...base, data: [join(root, "none.txt")], output: join(root, "x1") }),
    /none\.txt: file not found/,
  );
  const bad = join(root, "bad.jsonl");
  writeFileSync(bad, '{"id": 1, "label": 0}\n');
  await assert.rejects(
    distill({ ...base, data: [bad], output: join(root, "x2") }),
    /bad\.jsonl:1: no text column/,
  );
  await assert.rejects(
    distill({ ...base, data: [data], teacher: nllb, output: join(root, "x3") }),
    /--teacher .* is an m2m_100 model/,
  );
  await assert.rejects(
    distill({ ...base, data: [data], studentEncoder: e5, output: join(root, "x4") }),
    /--student-encoder .* is a bert model/,
  );
});

// NLLB-E5 parity with the PyTorch reference in <fixtures>/nllb-e5* (every case set found there):
// the student mask, forward intermediates, H_S, H_T, the MSE loss, gradients of the projection
// and every LoRA A/B, the full fine-tuning gradients, and merged-LoRA = unmerged.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { Checkpoint, overlay, tensorSource } from "../../src/models/checkpoint.ts";
import { encoderGraph } from "../../src/models/encoder-graph.ts";
import {
  type NllbE5Spec,
  type StudentParts,
  studentBatch,
  studentFeeds,
  studentGraph,
} from "../../src/models/nllb-e5.ts";
import { grad, gradName } from "../../src/tensor/autodiff.ts";
import { fuseForInference } from "../../src/tensor/fuse.ts";
import type { TensorData } from "../../src/tensor/graph.ts";
import { Session } from "../../src/tensor/session.ts";
import { adapterTensors, mergeAdapter, readLoraAdapter } from "../../src/weights/peft.ts";
import { readSafetensors } from "../../src/weights/safetensors.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const sets = readdirSync(fixturesRoot)
  .filter((n) => n.startsWith("nllb-e5") && existsSync(join(fixturesRoot, n, "cases.json")))
  .map((n) => join(fixturesRoot, n));

const flat = (v: unknown): number[] => (Array.isArray(v) ? (v as unknown[]).flatMap(flat) : [v as number]);
function maxDiff(got: TensorData, want: unknown): number {
  const w = flat(want);
  const g = got.data as Float32Array;
  assert.equal(g.length, w.length, "size");
  return w.reduce((m, x, i) => Math.max(m, Math.abs(g[i] - x)), 0);
}
const within = (what: string, got: TensorData, want: unknown, tol: number) => {
  const d = maxDiff(got, want);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
};

test("nllb-e5 fixture sets are present", () =>
  assert.ok(sets.length > 0, `no nllb-e5*/cases.json under ${fixturesRoot}`));

for (const dir of sets) {
  const student = join(dir, "student");
  const sc = JSON.parse(readFileSync(join(student, "student_config.json"), "utf8"));
  const ref = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8"));
  const nllb = Checkpoint.open(resolve(student, sc.nllb_path));
  const e5 = Checkpoint.open(resolve(student, sc.e5_base_path));
  const adapter = readLoraAdapter(student);
  const loraTensors = adapterTensors(adapter);
  const spec: NllbE5Spec = {
    projectionDims: sc.projection_dims,
    projectionActivation: sc.projection_activation ?? "none",
    prefixIds: sc.prefix_token_ids,
    sepId: sc.suffix_token_ids[0],
    lora: {
      r: adapter.config.r,
      alpha: adapter.config.alpha,
      dropout: 0,
      targets: adapter.config.targetModules as string[],
    },
    maxNllbTokens: 508,
  };
  const parts: StudentParts = {
    nllb,
    e5,
    e5Config: e5.config,
    projection: tensorSource(readSafetensors(join(student, sc.projection_file)), "projection"),
    lora: tensorSource(loraTensors, "adapter"),
  };
  const rows = (c: { nllb: { input_ids: number[][]; lengths: number[] } }) =>
    c.nllb.input_ids.map((r, b) => r.slice(0, c.nllb.lengths[b]));
  const teacherFeeds = (c: { teacher: { input_ids: number[][]; attention_mask: number[][] } }) => {
    const dims = [c.teacher.input_ids.length, c.teacher.input_ids[0].length];
    const i64 = (v: number[][]) => BigInt64Array.from(v.flat(), BigInt);
    return {
      input_ids: { dtype: "int64" as const, dims, data: i64(c.teacher.input_ids) },
      attention_mask: { dtype: "int64" as const, dims, data: i64(c.teacher.attention_mask) },
      token_type_ids: { dtype: "int64" as const, dims, data: new BigInt64Array(dims[0] * dims[1]) },
    };
  };

  test(`${dir}: student mask, forward, loss and LoRA/projection gradients`, async () => {
    const trainable = (n: string) => n.startsWith("proj.") || n.includes(".lora_");
    const { graph, trainableData } = studentGraph(parts, spec, {
      trainable,
      loss: true,
      intermediates: true,
    });
    const names = [...trainableData.keys()];
    assert.equal(names.length, 4 + 2 * adapter.weights.size);
    const train = await Session.create(grad(graph, "loss", names), { threads: 1 });
    const inter = await Session.create(graph, { threads: 1 });
    const teacher = await Session.create(encoderGraph(e5, { pooling: "mean", normalize: false }), {
      threads: 1,
    });
    const weights = Object.fromEntries(
      [...trainableData].map(([k, data]) => [
        k,
        { dtype: "float32" as const, dims: graph.inputs.find((i) => i.name === k)!.shape as number[], data },
      ]),
    );
    for (const c of ref.cases) {
      const sb = studentBatch(rows(c), c.roles, spec, 1);
      assert.deepEqual(
        Array.from(sb.studentMask, Number),
        c.student.attention_mask.flat(),
        `${c.name}: student attention mask`,
      );
      const ht = (await teacher.run(teacherFeeds(c))).embedding;
      within(`${c.name} H_T`, ht, c.outputs.H_T, 1e-5);
      const feeds = { ...studentFeeds(sb, ht.data as Float32Array, spec.projectionDims[2]), ...weights };
      const out = await inter.run(feeds);
      within(`${c.name} nllb hidden`, out.nllb_hidden, c.intermediates.nllb_encoder_last_hidden_state, 2e-5);
      within(`${c.name} projected`, out.projected, c.intermediates.projected, 2e-5);
      within(
        `${c.name} student inputs_embeds`,
        out.student_inputs_embeds,
        c.intermediates.student_inputs_embeds,
        2e-5,
      );
      within(
        `${c.name} student last hidden`,
        out.student_last_hidden_state,
        c.intermediates.student_last_hidden_state,
        2e-5,
      );
      within(`${c.name} H_S`, out.embedding, c.outputs.H_S, 1e-5);
      within(`${c.name} loss`, out.loss, c.outputs.loss, 1e-6);
      const g = await train.run(feeds);
      within(`${c.name} loss (training graph)`, g.loss, c.outputs.loss, 1e-6);
      for (const [k, want] of Object.entries(c.grads))
        within(`${c.name} d/d${k}`, g[gradName(k)], want, k.startsWith("proj.") ? 1e-6 : 2e-6);
    }
    await Promise.all([train.release(), inter.release(), teacher.release()]);
  });

  test(`${dir}: full fine-tuning gradients (E5 without LoRA, every E5 weight trainable)`, async () => {
    const c = ref.cases.find((x: { full_finetune?: unknown }) => x.full_finetune);
    const ff = c.full_finetune;
    const { graph, trainableData } = studentGraph(
      { ...parts, lora: null },
      { ...spec, lora: null },
      { trainable: () => true, loss: true },
    );
    const teacher = await Session.create(encoderGraph(e5, { pooling: "mean", normalize: false }), {
      threads: 1,
    });
    const ht = (await teacher.run(teacherFeeds(c))).embedding;
    const wanted = Object.keys(ff.grads);
    const s = await Session.create(grad(graph, "loss", wanted), { threads: 1 });
    const weights = Object.fromEntries(
      [...trainableData].map(([k, data]) => [
        k,
        { dtype: "float32" as const, dims: graph.inputs.find((i) => i.name === k)!.shape as number[], data },
      ]),
    );
    const out = await s.run({
      ...studentFeeds(studentBatch(rows(c), c.roles, spec, 1), ht.data as Float32Array, e5.config.hidden),
      ...weights,
    });
    within("full-FT loss", out.loss, ff.loss, 1e-6);
    for (const k of wanted) within(`full-FT d/d${k}`, out[gradName(k)], ff.grads[k], 1e-6);
    await Promise.all([s.release(), teacher.release()]);
  });

  test(`${dir}: LoRA merged into the E5 weights gives the same H_S, fused for inference too`, async () => {
    const e5Tensors = new Map(
      [...adapter.weights.keys()].map((m) => [
        `${m}.weight`,
        e5.read(`${m}.weight`, [e5.config.hidden, e5.config.hidden]),
      ]),
    );
    const merged = mergeAdapter(e5Tensors, adapter, "adapter");
    const plain = studentGraph(
      { ...parts, e5: overlay(tensorSource(merged, "merged"), e5), lora: null },
      { ...spec, lora: null },
    );
    const withLora = studentGraph(parts, spec);
    // as Encoder.load runs an NLLB-E5 folder: self-attention of both encoders fused
    const fused = fuseForInference(plain.graph);
    assert.equal(
      fused.nodes.filter((n) => n.op === "MultiHeadAttention").length,
      nllb.config.layers + e5.config.layers,
    );
    const a = await Session.create(plain.graph, { threads: 1 });
    const b = await Session.create(withLora.graph, { threads: 1 });
    const f = await Session.create(fused, { threads: 1 });
    for (const c of ref.cases) {
      const feeds = studentFeeds(studentBatch(rows(c), c.roles, spec, 1));
      const m = (await a.run(feeds)).embedding;
      within(`${c.name} merged vs reference merged H_S`, m, c.merged_lora.H_S, 1e-5);
      within(
        `${c.name} merged vs unmerged`,
        m,
        Array.from((await b.run(feeds)).embedding.data as Float32Array),
        1e-5,
      );
      within(`${c.name} fused merged H_S`, (await f.run(feeds)).embedding, c.merged_lora.H_S, 1e-5);
    }
    await Promise.all([a.release(), b.release(), f.release()]);
  });
}

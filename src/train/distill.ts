// NLLB-E5 distillation (the paper's recipe): the student — frozen NLLB encoder, a trained projection,
// E5 with LoRA — learns to give E5's own mean-pooled vector for the same English text, by MSE.
// Teacher vectors are computed once and cached on disk. One ONNX Runtime session runs forward and
// backward (autodiff graph); AdamW, the schedule, clipping and accumulation run in TypeScript.
// Everything a resumed run needs is checkpointed, so N steps straight and N/2 + crash + resume
// give the same weights.

import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Encoder } from "../encode/encoder.ts";
import { Checkpoint, tensorSource } from "../models/checkpoint.ts";
import { dropoutInput, type LoraSpec } from "../models/lora.ts";
import {
  type NllbE5Spec,
  type ProjectionActivation,
  studentBatch,
  studentFeeds,
  studentGraph,
} from "../models/nllb-e5.ts";
import { writeNllbE5Folder } from "../models/nllb-e5-folder.ts";
import { Rng } from "../models/random.ts";
import { grad, gradName } from "../tensor/autodiff.ts";
import type { Graph, TensorData } from "../tensor/graph.ts";
import { quantizeLinears } from "../tensor/quantize.ts";
import { Session } from "../tensor/session.ts";
import { nllbRow } from "../text/nllb-input.ts";
import { nllbLangTokenId } from "../text/nllb-langs.ts";
import { loadTokenizer } from "../text/tokenizer.ts";
import { type ResolveOptions, resolveModel } from "../weights/hub.ts";
import { peftKey } from "../weights/peft.ts";
import { type TrainingText, readTrainingTexts } from "./data.ts";
import {
  type EvalLog as LoopEvalLog,
  type LoopHooks,
  type StepLog,
  type TrainerOptions,
  trainLoop,
} from "./loop.ts";
import type { NamedArrays } from "./params.ts";
import { StateCache, fillStates, rowHash } from "./state-cache.ts";
import { TeacherCache, textHash } from "./teacher-cache.ts";

export type TrainableSet = "projection" | "projection+lora" | "full";

export interface DistillConfig extends TrainerOptions {
  /** NLLB (M2M100) checkpoint: hub id or folder. */
  studentEncoder: string;
  /** E5 (BERT / XLM-R) checkpoint: hub id or folder; also the student's E5 base. */
  teacher: string;
  data: string[];
  steps: number;
  /** The model folder; training state lives in <output>/training. */
  output: string;
  projectionHidden?: number;
  projectionActivation?: ProjectionActivation;
  trainable?: TrainableSet;
  lora?: Omit<LoraSpec, "targets"> & { targets?: string[] };
  /** Held-out texts evaluated every `evalEvery` steps (default steps/10): default 10%, at most 256. */
  evalSize?: number;
  threads?: number;
  /** NLLB language of the training text. */
  lang?: string;
  maxNllbTokens?: number;
  /** Fold LoRA into E5 in the exported model (default true). */
  merge?: boolean;
  /**
   * Run the frozen NLLB encoder once per text and train from its output kept on disk as float16
   * (<output>/training/nllb-cache, StateCache; 2 x d_model bytes per NLLB token), instead of in
   * every step. Worth it when the data is read more than once (steps x batch > texts); values
   * differ from the uncached run by float16 rounding of the NLLB states. Default false.
   */
  cacheNllb?: boolean;
  /**
   * The frozen NLLB encoder's linear layers in int8 (faster; its states slightly off float32's):
   * in every step's graph, or, with cacheNllb, in the one pass that fills the cache. Default float32.
   */
  nllbDtype?: "float32" | "int8";
  hub?: ResolveOptions;
}

export type { StepLog };
export type EvalLog = LoopEvalLog<{ eval_mse: number; eval_cosine: number }>;

export interface DistillHooks extends LoopHooks<{ eval_mse: number; eval_cosine: number }> {
  /** Progress of the one-time teacher pass. */
  onTeacher?: (done: number, total: number) => void;
  /** Progress of the one-time NLLB pass (cacheNllb). */
  onNllb?: (done: number, total: number) => void;
}

export interface DistillResult {
  steps: number;
  interrupted: boolean;
  lastEval?: EvalLog;
}

interface Example {
  nllb: number[];
  role: "query" | "passage";
  hash: string;
  /** Names the NLLB row's states in the StateCache (they depend on the ids only). */
  stateHash: string;
}

export const trainingDir = (output: string) => join(output, "training");

function uniformInit(rng: Rng, n: number, bound: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * rng.next() - 1) * bound;
  return a;
}

/** Cosine of two rows. */
function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb || 1);
}

export async function distill(cfg: DistillConfig, hooks: DistillHooks = {}): Promise<DistillResult> {
  const batchSize = cfg.batchSize ?? 16;
  const accum = cfg.gradAccum ?? 1;
  const lr = cfg.lr ?? 2e-4;
  const seed = cfg.seed ?? 42;
  const mode = cfg.trainable ?? "projection+lora";
  if (!Number.isInteger(cfg.steps) || cfg.steps < 1)
    throw new Error(`--steps must be a positive integer, got ${cfg.steps}`);
  const nllbDtype = cfg.nllbDtype ?? "float32";
  const nllbDir = await resolveModel(cfg.studentEncoder, cfg.hub);
  const e5Dir = await resolveModel(cfg.teacher, cfg.hub);
  const nllb = Checkpoint.open(nllbDir);
  const e5 = Checkpoint.open(e5Dir);
  const closers: (() => unknown)[] = [() => nllb.close(), () => e5.close()];
  try {
    if (nllb.config.family !== "m2m100")
      throw new Error(
        `--student-encoder ${cfg.studentEncoder} is a ${nllb.config.modelType} model; give an NLLB-200 (m2m_100) checkpoint`,
      );
    if (e5.config.family === "m2m100")
      throw new Error(`--teacher ${cfg.teacher} is an m2m_100 model; give an E5 (BERT or XLM-R) encoder`);
    const dN = nllb.config.hidden;
    const dE = e5.config.hidden;
    const hidden = cfg.projectionHidden ?? 4096;

    // the teacher: E5 on "query: ..." / "passage: ...", raw mean pooling (the paper's target)
    const teacher = await Encoder.load(e5Dir, {
      threads: cfg.threads,
      batchSize: 64,
      override: { pooling: "mean", normalize: false, prompts: { query: "query: ", passage: "passage: " } },
    });
    closers.push(() => teacher.close());
    if (teacher.dim !== dE)
      throw new Error(`teacher ${cfg.teacher} gives ${teacher.dim}-dim vectors but its hidden size is ${dE}`);
    const prefixOf = (role: "query" | "passage") => teacher.tokenize([""], { role })[0];
    const q = prefixOf("query");
    const p = prefixOf("passage");
    if (q.length !== p.length || q.length < 2)
      throw new Error(
        `teacher tokenizer splits "query: " and "passage: " into different numbers of tokens (${q.length} vs ${p.length}); NLLB-E5 needs one prefix length`,
      );
    const lora: LoraSpec | null =
      mode === "projection+lora"
        ? {
            r: cfg.lora?.r ?? 32,
            alpha: cfg.lora?.alpha ?? 64,
            dropout: cfg.lora?.dropout ?? 0.05,
            targets: cfg.lora?.targets ?? ["query", "key", "value"],
          }
        : null;
    const spec: NllbE5Spec = {
      projectionDims: [dN, hidden, dE],
      projectionActivation: cfg.projectionActivation ?? "none",
      prefixIds: { query: q.slice(0, -1), passage: p.slice(0, -1) },
      sepId: q[q.length - 1],
      lora,
      maxNllbTokens: cfg.maxNllbTokens ?? 508,
    };
    if (spec.prefixIds.query.length !== 3)
      throw new Error(
        `teacher tokenizer gives ${spec.prefixIds.query.length} prefix tokens for "query: " ([CLS] query :); NLLB-E5 expects 3`,
      );

    // data: tokenized for the student, teacher vectors from the cache
    const texts = readTrainingTexts(cfg.data);
    const nllbTok = loadTokenizer(nllbDir);
    const langId = nllbLangTokenId(nllbTok, cfg.lang ?? "eng_Latn");
    const eos = nllbTok.specialIds.eos ?? nllbTok.tokenToId("</s>") ?? 2;
    const examples: Example[] = texts.map((t: TrainingText) => {
      const nllb = nllbRow(nllbTok.encodeText(t.text), langId, eos, spec.maxNllbTokens).ids;
      return { nllb, role: t.role, hash: textHash(t.role, t.text), stateHash: rowHash(nllb) };
    });
    const evalSize = cfg.evalSize ?? Math.min(256, Math.floor(examples.length / 10));
    const train = examples.slice(0, examples.length - evalSize);
    const held = examples.slice(examples.length - evalSize);
    if (train.length < batchSize)
      throw new Error(
        `${texts.length} training texts leave ${train.length} after the held-out split, fewer than one batch of ${batchSize}`,
      );

    const tdir = trainingDir(cfg.output);
    mkdirSync(tdir, { recursive: true });
    const modelKey = (id: string, dir: string) =>
      `${id}|${cfg.hub?.revision ?? ""}|${statSync(join(dir, "model.safetensors")).size}|${readFileSync(join(dir, "config.json"), "utf8")}`;
    const cache = TeacherCache.open(join(tdir, "teacher-cache"), modelKey(cfg.teacher, e5Dir), dE);
    const missing = new Map<string, TrainingText>();
    texts.forEach((t, i) => !cache.has(examples[i].hash) && missing.set(examples[i].hash, t));
    const todo = [...missing];
    for (let start = 0; start < todo.length; start += 256) {
      const part = todo.slice(start, start + 256);
      const rows = new Float32Array(part.length * dE);
      for (const role of ["query", "passage"] as const) {
        const idx = part.flatMap(([, t], i) => (t.role === role ? [i] : []));
        if (!idx.length) continue;
        const emb = await teacher.embed(
          idx.map((i) => part[i][1].text),
          { role },
        );
        idx.forEach((i, k) => rows.set(emb.data.subarray(k * dE, (k + 1) * dE), i * dE));
      }
      cache.append(
        part.map(([h]) => h),
        rows,
      );
      hooks.onTeacher?.(Math.min(start + 256, todo.length), todo.length);
    }
    const states = cfg.cacheNllb
      ? StateCache.open(join(tdir, "nllb-cache"), `${modelKey(cfg.studentEncoder, nllbDir)}|${nllbDtype}`, dN)
      : undefined;
    if (states)
      await fillStates(
        states,
        nllb,
        examples,
        { threads: cfg.threads, pad: nllbTok.padId, dtype: nllbDtype },
        hooks.onNllb,
      );

    // trainable weights: fresh projection (nn.Linear init), LoRA A kaiming / B zero (PEFT init),
    // or E5's own weights for full fine-tuning
    const init = new Rng(seed);
    const proj = new Map([
      ["proj.0.weight", { data: uniformInit(init, hidden * dN, 1 / Math.sqrt(dN)), dims: [hidden, dN] }],
      ["proj.0.bias", { data: uniformInit(init, hidden, 1 / Math.sqrt(dN)), dims: [hidden] }],
      ["proj.1.weight", { data: uniformInit(init, dE * hidden, 1 / Math.sqrt(hidden)), dims: [dE, hidden] }],
      ["proj.1.bias", { data: uniformInit(init, dE, 1 / Math.sqrt(hidden)), dims: [dE] }],
    ]);
    const loraTensors = new Map<string, { data: Float32Array; dims: number[] }>();
    if (lora)
      for (let i = 0; i < e5.config.layers; i++)
        for (const t of lora.targets) {
          const m = `encoder.layer.${i}.attention.self.${t}`;
          loraTensors.set(peftKey(m, "A"), {
            data: uniformInit(init, lora.r * dE, 1 / Math.sqrt(dE)),
            dims: [lora.r, dE],
          });
          loraTensors.set(peftKey(m, "B"), { data: new Float32Array(dE * lora.r), dims: [dE, lora.r] });
        }
    const isTrainable = (name: string) =>
      name.startsWith("proj.") || name.includes(".lora_") || mode === "full";
    const parts = {
      nllb,
      e5,
      e5Config: e5.config,
      projection: tensorSource(proj, "projection"),
      lora: lora ? tensorSource(loraTensors, "lora") : null,
    };
    const withDropout = !!lora && lora.dropout > 0;
    const nllbStates = !!states;
    const built = studentGraph(parts, spec, {
      trainable: isTrainable,
      loss: true,
      dropout: withDropout,
      nllbStates,
    });
    const names = [...built.trainableData.keys()];
    const dims: Record<string, number[]> = Object.fromEntries(
      names.map((n) => [n, built.graph.inputs.find((i) => i.name === n)!.shape as number[]]),
    );
    const dropoutModules = built.graph.inputs
      .filter((i) => i.name.startsWith("lora_dropout."))
      .map((i) => i.name.slice("lora_dropout.".length));
    // --nllb-dtype int8 without the cache: NLLB's linear layers run in int8 inside the step (no
    // gradient flows through NLLB: autodiff left it out of the backward pass)
    const nllbInt8 = (g: Graph) =>
      nllbDtype === "int8" && !states ? quantizeLinears(g, { weights: (w) => w.startsWith("nllb.") }) : g;
    const trainSession = await Session.create(nllbInt8(grad(built.graph, "loss", names)), {
      threads: cfg.threads,
      memoryPattern: false,
    });
    closers.push(() => trainSession.release());
    const evalSession = await Session.create(
      nllbInt8(studentGraph(parts, spec, { trainable: isTrainable, loss: true, nllbStates }).graph),
      { threads: cfg.threads },
    );
    closers.push(() => evalSession.release());

    const params: NamedArrays = Object.fromEntries(built.trainableData);
    const feedsFor = (batch: Example[], rng: Rng | null): Record<string, TensorData> => {
      const sb = studentBatch(
        batch.map((e) => e.nllb),
        batch.map((e) => e.role),
        spec,
        nllbTok.padId,
      );
      const teacherRows = new Float32Array(batch.length * dE);
      batch.forEach((e, i) => teacherRows.set(cache.get(e.hash), i * dE));
      const feeds: Record<string, TensorData> = { ...studentFeeds(sb, teacherRows, dE) };
      if (states) {
        delete feeds.nllb_input_ids;
        const data = states.batch(
          batch.map((e) => e.stateHash),
          sb.nllbSeq,
        );
        feeds.nllb_hidden = { dtype: "float32", dims: [sb.batch, sb.nllbSeq, dN], data };
      }
      for (const n of names) feeds[n] = { dtype: "float32", dims: dims[n], data: params[n] };
      if (rng) {
        const L = sb.nllbSeq + 4;
        const keep = 1 - lora!.dropout;
        for (const m of dropoutModules) {
          const mask = new Float32Array(sb.batch * L * dE);
          for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < keep ? 1 / keep : 0;
          feeds[dropoutInput(m)] = { dtype: "float32", dims: [sb.batch, L, dE], data: mask };
        }
      }
      return feeds;
    };

    const evaluate = async () => {
      let se = 0;
      let cos = 0;
      for (let s = 0; s < held.length; s += batchSize) {
        const batch = held.slice(s, s + batchSize);
        const out = await evalSession.run(feedsFor(batch, null), ["embedding", "loss"]);
        se += (out.loss.data as Float32Array)[0] * batch.length;
        const hs = out.embedding.data as Float32Array;
        batch.forEach((e, i) => (cos += cosine(hs.subarray(i * dE, (i + 1) * dE), cache.get(e.hash))));
      }
      return { eval_mse: se / held.length, eval_cosine: cos / held.length };
    };

    const r = await trainLoop(
      {
        steps: cfg.steps,
        batchSize,
        gradAccum: accum,
        lr,
        warmupSteps: cfg.warmupSteps,
        weightDecay: cfg.weightDecay,
        maxGradNorm: cfg.maxGradNorm,
        seed,
        evalEvery: cfg.evalEvery ?? Math.max(1, Math.floor(cfg.steps / 10)),
        checkpointEvery: cfg.checkpointEvery,
        dir: tdir,
        resume: cfg.resume,
        fingerprint: {
          studentEncoder: cfg.studentEncoder,
          teacher: cfg.teacher,
          data: cfg.data.map((f) => [f, statSync(f).size]),
          steps: cfg.steps,
          batchSize,
          accum,
          lr,
          seed,
          mode,
          spec,
          weightDecay: cfg.weightDecay ?? 0,
          warmup: cfg.warmupSteps ?? null,
          ...(cfg.cacheNllb ? { cacheNllb: true } : {}),
          ...(nllbDtype !== "float32" ? { nllbDtype } : {}),
        },
        curve: {
          evalKey: "eval_mse",
          title: "distillation loss",
          trainLabel: "train MSE",
          evalLabel: "held-out MSE",
        },
      },
      {
        params,
        dims,
        trainSize: train.length,
        microStep: async (idx, rng) => {
          const out = await trainSession.run(
            feedsFor(
              idx.map((i) => train[i]),
              withDropout ? rng : null,
            ),
          );
          return {
            loss: (out.loss.data as Float32Array)[0],
            grads: Object.fromEntries(names.map((n) => [n, out[gradName(n)].data as Float32Array])),
          };
        },
        evaluate: held.length ? evaluate : undefined,
      },
      hooks,
    );
    const lastEval = r.lastEval;
    if (r.interrupted) return { steps: r.steps, interrupted: true, lastEval };

    const named = (keys: string[]) => new Map(keys.map((k) => [k, { data: params[k], dims: dims[k] }]));
    writeNllbE5Folder(cfg.output, {
      nllbDir,
      e5Dir,
      studentEncoder: cfg.studentEncoder,
      teacher: cfg.teacher,
      spec,
      projection: named(names.filter((n) => n.startsWith("proj."))),
      lora: lora ? named(names.filter((n) => n.includes(".lora_"))) : undefined,
      e5Weights:
        mode === "full" ? storedNames(e5, named(names.filter((n) => !n.startsWith("proj.")))) : undefined,
      merge: cfg.merge ?? true,
    });
    return { steps: r.steps, interrupted: false, lastEval };
  } finally {
    for (const c of closers.reverse()) await c();
  }
}

/** Trained E5 weights keyed by the names stored in the checkpoint file (prefixes as the file has them). */
function storedNames(ck: Checkpoint, weights: Map<string, { data: Float32Array; dims: number[] }>) {
  return new Map([...weights].map(([k, t]) => [ck.key(k) ?? k, t]));
}

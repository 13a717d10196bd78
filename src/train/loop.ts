// The one training loop every trainer runs (distillation, contrastive fine-tuning, and the model
// heads to come): batches drawn from a seeded per-epoch permutation, micro-batch accumulation,
// global-norm clipping, AdamW under a linear warmup/decay schedule, a JSONL log with a loss.svg
// beside it, periodic evaluation, and checkpoints holding everything a resumed run needs (weights,
// moments, step, data position, generator state), so N steps straight and N/2 + crash + resume
// give the same weights. What a step computes is the trainer's: `microStep` returns the loss and
// the gradients of one micro-batch.

import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../models/random.ts";
import { type AdamWState, adamwStep, createAdamWState } from "./adamw.ts";
import {
  accumulateGrads,
  averagedGrads,
  clipGradNorm,
  createGradAccumulator,
  resetGradAccumulator,
} from "./gradients.ts";
import { type CurvePoint, lossCurveSvg } from "./loss-curve.ts";
import type { NamedArrays } from "./params.ts";
import { linearWithWarmup } from "./schedule.ts";
import { type TrainPosition, type TrainerState, loadCheckpoint, saveCheckpoint } from "./state.ts";

export interface StepLog {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  elapsed_s: number;
}

/** An evaluation's figures (the trainer's own names), logged as one JSONL line beside the step lines. */
export type Figures = Record<string, number>;
export type EvalLog<E extends Figures = Figures> = { step: number } & E;

export interface LoopConfig {
  steps: number;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  lr: number;
  /** Default 10% of the steps. */
  warmupSteps?: number;
  weightDecay?: number;
  /** 0: no clipping; default 1. */
  maxGradNorm?: number;
  /** Names that get no weight decay. */
  noDecay?: (name: string) => boolean;
  seed: number;
  /** Evaluate every N steps (and at step 0 and the last step). */
  evalEvery: number;
  checkpointEvery?: number;
  /** The run's training folder: train_log.jsonl, loss.svg, checkpoint/. */
  dir: string;
  resume?: boolean;
  /** What must match for --resume to continue a checkpoint. */
  fingerprint: Record<string, unknown>;
  /** The eval figure drawn on loss.svg beside the training loss, and the plot's labels. */
  curve?: { evalKey?: string; title: string; trainLabel: string; evalLabel?: string };
}

/** What a trainer's caller sets of the loop (each trainer has its own defaults). */
export type TrainerOptions = Partial<
  Pick<
    LoopConfig,
    | "batchSize"
    | "gradAccum"
    | "lr"
    | "warmupSteps"
    | "weightDecay"
    | "maxGradNorm"
    | "evalEvery"
    | "checkpointEvery"
    | "seed"
    | "resume"
  >
>;

export interface LoopModel<E extends Figures = Figures> {
  /** Trainable tensors (updated in place) and their dims. */
  params: NamedArrays;
  dims: Record<string, number[]>;
  /** How many training examples there are (the permutation's size). */
  trainSize: number;
  /** Loss and gradients (same names as params) of one micro-batch of example indices. */
  microStep(batch: number[], rng: Rng): Promise<{ loss: number; grads: NamedArrays }>;
  /** Figures of the model as it is after `step` steps. */
  evaluate?(step: number): Promise<E>;
  /** The trainer's own state, saved with every checkpoint (tensor names "<kind>.<param>") and given back on resume. */
  saveState?(): TrainerState;
  loadState?(state: TrainerState): void;
}

export interface LoopHooks<E extends Figures = Figures> {
  onStep?: (log: StepLog) => void;
  onEval?: (log: EvalLog<E>) => void;
  /** Checked after every step: true saves a checkpoint and returns (Ctrl-C). */
  shouldStop?: () => boolean;
}

export interface LoopResult<E extends Figures = Figures> {
  steps: number;
  interrupted: boolean;
  lastEval?: EvalLog<E>;
  /** Every eval line of the log, resumed runs' earlier ones included. */
  evals: EvalLog<E>[];
}

export const checkpointDir = (dir: string) => join(dir, "checkpoint");
const logFile = (dir: string) => join(dir, "train_log.jsonl");

/** The lines of a run's log (steps and evaluations). */
export function readTrainLog(dir: string): Record<string, number>[] {
  if (!existsSync(logFile(dir))) return [];
  return readFileSync(logFile(dir), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export async function trainLoop<E extends Figures>(
  cfg: LoopConfig,
  model: LoopModel<E>,
  hooks: LoopHooks<E> = {},
): Promise<LoopResult<E>> {
  const accum = cfg.gradAccum ?? 1;
  if (!Number.isInteger(cfg.steps) || cfg.steps < 1)
    throw new Error(`--steps must be a positive integer, got ${cfg.steps}`);
  if (model.trainSize < cfg.batchSize)
    throw new Error(
      `${model.trainSize} training examples are fewer than one batch of ${cfg.batchSize}; give more data or a smaller --batch-size`,
    );
  mkdirSync(cfg.dir, { recursive: true });
  const ckDir = checkpointDir(cfg.dir);
  const logPath = logFile(cfg.dir);
  const params = model.params;
  let optimizer: AdamWState = createAdamWState(params);
  let pos: TrainPosition = { step: 0, epoch: 0, index: 0, rng: new Rng(cfg.seed + 1).state };
  if (existsSync(join(ckDir, "state.json"))) {
    if (!cfg.resume)
      throw new Error(
        `${cfg.dir} already holds a training checkpoint; pass --resume to continue it, or choose another --output`,
      );
    const ck = loadCheckpoint(ckDir, cfg.fingerprint);
    // the model keeps its own arrays (its sessions may hold them): copy the saved values in
    for (const [k, a] of Object.entries(ck.params)) params[k].set(a);
    optimizer = ck.optimizer;
    pos = ck.position;
    if (ck.extra) model.loadState?.(ck.extra);
    truncateLog(logPath, pos.step);
  } else writeFileSync(logPath, "");

  const schedule = linearWithWarmup(cfg.warmupSteps ?? Math.floor(cfg.steps / 10), cfg.steps);
  const acc = createGradAccumulator(params);
  const rng = new Rng(pos.rng);
  const permutation = (epoch: number) => new Rng(cfg.seed * 7919 + epoch).permutation(model.trainSize);
  let order = permutation(pos.epoch);
  const nextBatch = (): number[] => {
    const out: number[] = [];
    while (out.length < cfg.batchSize) {
      if (pos.index >= order.length) {
        pos.epoch += 1;
        pos.index = 0;
        order = permutation(pos.epoch);
      }
      out.push(order[pos.index++]);
    }
    return out;
  };
  const evals = readTrainLog(cfg.dir).filter((l) => !("loss" in l)) as EvalLog<E>[];
  const evaluate = async () => {
    if (!model.evaluate) return;
    const log = { step: pos.step, ...(await model.evaluate(pos.step)) } as EvalLog<E>;
    appendFileSync(logPath, JSON.stringify(log) + "\n");
    evals.push(log);
    hooks.onEval?.(log);
  };
  const save = () =>
    saveCheckpoint(
      ckDir,
      {
        position: { ...pos, rng: rng.state },
        params,
        dims: model.dims,
        optimizer,
        extra: model.saveState?.(),
      },
      cfg.fingerprint,
    );
  const curve = () => {
    const c = cfg.curve;
    if (!c) return;
    const lines = readTrainLog(cfg.dir);
    const pts = (k: string): CurvePoint[] =>
      lines.filter((l) => k in l).map((l) => ({ step: l.step, value: l[k] }));
    const svg = lossCurveSvg(pts("loss"), c.evalKey ? pts(c.evalKey) : [], c);
    writeFileSync(join(cfg.dir, "loss.svg"), svg);
  };

  const evalEvery = cfg.evalEvery;
  const checkpointEvery = cfg.checkpointEvery ?? 200;
  const started = Date.now();
  if (pos.step === 0) await evaluate();
  while (pos.step < cfg.steps) {
    let lossSum = 0;
    for (let k = 0; k < accum; k++) {
      const out = await model.microStep(nextBatch(), rng);
      lossSum += out.loss;
      accumulateGrads(acc, out.grads);
    }
    const grads = averagedGrads(acc);
    resetGradAccumulator(acc);
    const gradNorm = cfg.maxGradNorm === 0 ? NaN : clipGradNorm(grads, cfg.maxGradNorm ?? 1.0);
    const stepLr = cfg.lr * schedule(pos.step);
    adamwStep(params, grads, optimizer, stepLr, { weightDecay: cfg.weightDecay ?? 0, noDecay: cfg.noDecay });
    pos.step += 1;
    const log: StepLog = {
      step: pos.step,
      loss: lossSum / accum,
      lr: stepLr,
      grad_norm: gradNorm,
      elapsed_s: (Date.now() - started) / 1000,
    };
    appendFileSync(logPath, JSON.stringify(log) + "\n");
    hooks.onStep?.(log);
    if (pos.step % evalEvery === 0 || pos.step === cfg.steps) await evaluate();
    const stop = hooks.shouldStop?.() ?? false;
    if (pos.step % checkpointEvery === 0 || pos.step === cfg.steps || stop) {
      save();
      curve();
    }
    if (stop) return { steps: pos.step, interrupted: true, lastEval: evals.at(-1), evals };
  }
  return { steps: pos.step, interrupted: false, lastEval: evals.at(-1), evals };
}

/** Keep the log lines of steps up to `step` (a resumed run rewrites what came after). */
function truncateLog(path: string, step: number): void {
  if (!existsSync(path)) return writeFileSync(path, "");
  const keep = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l && JSON.parse(l).step <= step);
  writeFileSync(path, keep.map((l) => l + "\n").join(""));
}

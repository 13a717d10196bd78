// Training checkpoints that make a resumed run continue bit for bit: the trainable tensors, AdamW's
// moments, the step, the data position (epoch + index into that epoch's permutation) and the RNG
// state, plus a fingerprint of the run's settings so a resume with other settings is refused. A
// checkpoint is written to a temp folder and renamed into place: a crash mid-write leaves the
// previous checkpoint whole.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../weights/safetensors.ts";
import { type AdamWState, restoreAdamWState, serializeAdamWState } from "./adamw.ts";
import type { NamedArrays } from "./params.ts";

export interface TrainPosition {
  /** Optimizer steps completed. */
  step: number;
  epoch: number;
  /** Index into the epoch's permutation of the training examples. */
  index: number;
  /** Generator state (dropout masks). */
  rng: number;
}

export interface TrainCheckpoint {
  position: TrainPosition;
  params: NamedArrays;
  dims: Record<string, number[]>;
  optimizer: AdamWState;
  /** A trainer's own state (best weights so far, running statistics): tensors keyed like params. */
  extra?: TrainerState;
}

export interface TrainerState {
  json?: unknown;
  tensors?: NamedArrays;
}

export function saveCheckpoint(dir: string, ck: TrainCheckpoint, fingerprint: unknown): void {
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tensors = (arrays: NamedArrays, dimsOf: (k: string) => number[]) =>
    new Map(Object.entries(arrays).map(([k, data]) => [k, { data, dims: dimsOf(k) }]));
  writeSafetensors(
    join(tmp, "params.safetensors"),
    tensors(ck.params, (k) => ck.dims[k]),
  );
  const snap = serializeAdamWState(ck.optimizer);
  writeSafetensors(
    join(tmp, "optimizer.safetensors"),
    tensors(snap.tensors, (k) => ck.dims[k.slice(k.indexOf(".") + 1)]),
  );
  if (ck.extra?.tensors)
    writeSafetensors(
      join(tmp, "extra.safetensors"),
      tensors(
        ck.extra.tensors,
        (k) => ck.dims[k.slice(k.indexOf(".") + 1)] ?? [ck.extra!.tensors![k].length],
      ),
    );
  writeFileSync(
    join(tmp, "state.json"),
    JSON.stringify({ ...ck.position, adam_step: snap.step, fingerprint, extra: ck.extra?.json }, null, 2),
  );
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** Load a checkpoint; throws naming the settings that differ from `fingerprint`. */
export function loadCheckpoint(dir: string, fingerprint: Record<string, unknown>): TrainCheckpoint {
  const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8"));
  const saved = state.fingerprint as Record<string, unknown>;
  const differ = Object.keys({ ...saved, ...fingerprint }).filter(
    (k) => JSON.stringify(saved[k]) !== JSON.stringify(fingerprint[k]),
  );
  if (differ.length)
    throw new Error(
      `${dir} was written by a run with other settings (${differ.join(", ")}); resume with the same options or use another --output`,
    );
  const params: NamedArrays = {};
  const dims: Record<string, number[]> = {};
  for (const [k, t] of readSafetensors(join(dir, "params.safetensors"))) {
    params[k] = t.data;
    dims[k] = t.dims;
  }
  const moments: NamedArrays = {};
  for (const [k, t] of readSafetensors(join(dir, "optimizer.safetensors"))) moments[k] = t.data;
  const optimizer = restoreAdamWState({ step: state.adam_step, tensors: moments }, params);
  const extraFile = join(dir, "extra.safetensors");
  const extraTensors: NamedArrays = {};
  if (existsSync(extraFile)) for (const [k, t] of readSafetensors(extraFile)) extraTensors[k] = t.data;
  return {
    position: { step: state.step, epoch: state.epoch, index: state.index, rng: state.rng },
    params,
    dims,
    optimizer,
    extra: { json: state.extra, tensors: extraTensors },
  };
}

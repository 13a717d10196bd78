// AdamW (Loshchilov & Hutter), step for step as torch.optim.AdamW (amsgrad=False, maximize=False):
//
//   t      = t + 1
//   p      = p * (1 - lr * wd)                         decoupled decay, before the Adam update
//   m      = b1 * m + (1 - b1) * g
//   v      = b2 * v + (1 - b2) * g^2
//   denom  = sqrt(v) / sqrt(1 - b2^t) + eps            eps outside the bias correction, as torch
//   p      = p - (lr / (1 - b1^t)) * m / denom
//
// Parameters, gradients and moments are Float32Arrays updated in place: they are the big buffers of
// a training run and copying them every step would double its memory traffic. Arithmetic on each
// element is done in float64 and rounded once when stored, which keeps us within a few float32
// ulps of torch (which rounds after every op).

import { assertSameLayout, cloneArrays, zerosLike, type NamedArrays } from "./params.ts";

export interface AdamWConfig {
  /** Base learning rate; a schedule scales it per step (see schedule.ts). */
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (torch's default 0.01). */
  weightDecay?: number;
  /** Parameters for which this returns true get no weight decay (e.g. `transformersNoDecay`). */
  noDecay?: (name: string) => boolean;
}

/** What one step needs: everything but the base lr, which the caller turns into this step's lr. */
export type AdamWHyperparams = Omit<AdamWConfig, "lr">;

/** Optimizer state as plain data. `step` counts completed steps (torch's `state["step"]`). */
export interface AdamWState {
  step: number;
  /** First moment (torch's exp_avg), per parameter. */
  m: NamedArrays;
  /** Second moment (torch's exp_avg_sq), per parameter. */
  v: NamedArrays;
}

/** A checkpointable copy of the state: numbers plus flat tensors named like torch's state dict. */
export interface AdamWStateSnapshot {
  step: number;
  /** "exp_avg.<param>" and "exp_avg_sq.<param>" for every parameter. */
  tensors: NamedArrays;
}

const DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/**
 * The names transformers' example scripts exclude from weight decay: biases and LayerNorm weights
 * (`no_decay = ["bias", "LayerNorm.weight"]`), plus the lower-case layer-norm spellings other
 * checkpoints (NLLB/M2M100's `layer_norm`, `layernorm`) use.
 */
export function transformersNoDecay(name: string): boolean {
  return /bias$/.test(name) || /(LayerNorm|layer_norm|layernorm)\.weight$/.test(name);
}

/** Zero moments for `params`, step 0 (torch creates them lazily on the first step; same values). */
export function createAdamWState(params: NamedArrays): AdamWState {
  return { step: 0, m: zerosLike(params), v: zerosLike(params) };
}

/**
 * One AdamW step with learning rate `lr` (already scheduled), in place on `params` and `state`.
 * Everything is checked before anything is written, so a bad call leaves the run intact.
 */
export function adamwStep(
  params: NamedArrays,
  grads: NamedArrays,
  state: AdamWState,
  lr: number,
  config: AdamWHyperparams = {},
): void {
  const { beta1, beta2, eps, weightDecay } = checkedHyperparams(lr, config);
  assertSameLayout(params, grads, "gradient");
  assertSameLayout(params, state.m, "exp_avg");
  assertSameLayout(params, state.v, "exp_avg_sq");

  const t = state.step + 1;
  // Scalars in float64, as torch computes them in Python floats.
  const stepSize = lr / (1 - beta1 ** t);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** t);

  for (const [name, p] of Object.entries(params)) {
    const g = grads[name];
    const m = state.m[name];
    const v = state.v[name];
    const decay = config.noDecay?.(name) ? 1 : 1 - lr * weightDecay;
    for (let i = 0; i < p.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      // m[i] and v[i] are read back as stored (float32), as torch's update uses the stored moments.
      p[i] = p[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
    }
  }
  state.step = t;
}

/** Copies the state into a snapshot (safe to write out while training continues). */
export function serializeAdamWState(state: AdamWState): AdamWStateSnapshot {
  const tensors: NamedArrays = {};
  for (const [name, a] of Object.entries(state.m)) tensors[`exp_avg.${name}`] = a.slice();
  for (const [name, a] of Object.entries(state.v)) tensors[`exp_avg_sq.${name}`] = a.slice();
  return { step: state.step, tensors };
}

/**
 * Rebuilds the state from a snapshot, checking it against the parameters it will update so a
 * checkpoint from another model fails here, not as a silent misfit later. The snapshot is copied.
 */
export function restoreAdamWState(snapshot: AdamWStateSnapshot, params: NamedArrays): AdamWState {
  if (!Number.isInteger(snapshot.step) || snapshot.step < 0) {
    throw new Error(`AdamW snapshot step must be a non-negative integer, got ${snapshot.step}`);
  }
  const m: NamedArrays = {};
  const v: NamedArrays = {};
  for (const [key, a] of Object.entries(snapshot.tensors)) {
    if (key.startsWith("exp_avg_sq.")) v[key.slice("exp_avg_sq.".length)] = a;
    else if (key.startsWith("exp_avg.")) m[key.slice("exp_avg.".length)] = a;
    else throw new Error(`AdamW snapshot has unexpected tensor "${key}" (expected exp_avg.* / exp_avg_sq.*)`);
  }
  assertSameLayout(params, m, "exp_avg");
  assertSameLayout(params, v, "exp_avg_sq");
  return { step: snapshot.step, m: cloneArrays(m), v: cloneArrays(v) };
}

// Same ranges torch.optim.AdamW accepts; anything else is a typo worth stopping on.
function checkedHyperparams(
  lr: number,
  config: AdamWHyperparams,
): Required<Omit<AdamWHyperparams, "noDecay">> {
  const c = { ...DEFAULTS, ...withoutUndefined(config) };
  if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`AdamW lr must be a finite number >= 0, got ${lr}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1)) throw new Error(`AdamW beta1 must be in [0, 1), got ${c.beta1}`);
  if (!(c.beta2 >= 0 && c.beta2 < 1)) throw new Error(`AdamW beta2 must be in [0, 1), got ${c.beta2}`);
  if (!(c.eps >= 0)) throw new Error(`AdamW eps must be >= 0, got ${c.eps}`);
  if (!(c.weightDecay >= 0)) throw new Error(`AdamW weightDecay must be >= 0, got ${c.weightDecay}`);
  return { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay };
}

// `{ beta1: undefined }` (e.g. from an optional CLI flag) should mean "default", not NaN.
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
}

// Central-difference gradient checks on float64 graphs: the loss is <y, R> for a fixed random R,
// so every element of the gradient matters; ONNX Runtime runs both the forward graph (for the finite
// differences) and the gradient graph (for the analytic values).

import { grad, gradName } from "../../src/tensor/autodiff.ts";
import { Graph, type TensorData, type Value } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";

/** A deterministic pseudo-random generator (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(rand: () => number, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++)
    out[i] = scale * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  return out;
}

export const f64 = (dims: number[], data: Float64Array | number[]): TensorData => ({
  dtype: "float64",
  dims,
  data: data instanceof Float64Array ? data : Float64Array.from(data),
});

export interface CheckResult {
  /** ||analytic - numeric|| / max(||analytic||, ||numeric||), per input. */
  relErr: Record<string, number>;
  analytic: Record<string, Float64Array>;
}

/**
 * Build y = build(g, inputs) on float64 inputs, then compare d<y,R>/d input from the gradient graph
 * with central differences (step h) for every input listed in `wrt` (default: all float inputs).
 */
export async function gradCheck(
  feeds: Record<string, TensorData>,
  build: (g: Graph, inputs: Record<string, Value>) => Value,
  opts: { wrt?: string[]; h?: number; seed?: number; shapes?: Record<string, (number | string)[]> } = {},
): Promise<CheckResult> {
  const g = new Graph("gradcheck");
  const inputs: Record<string, Value> = {};
  for (const [name, t] of Object.entries(feeds))
    inputs[name] = g.input(name, t.dtype, opts.shapes?.[name] ?? t.dims);
  const y = build(g, inputs);
  // find y's run-time dims with a forward run, then feed R of that shape
  const fwd0 = g.clone();
  fwd0.output(y, "y");
  const s0 = await Session.create(fwd0, { threads: 1 });
  const yDims = (await s0.run(feeds)).y.dims;
  const rand = rng(opts.seed ?? 7);
  const r = g.input("R", "float64", y.shape);
  const loss = o.sumAll(o.mul(y, r));
  const rFeed = f64(
    yDims,
    randn(
      rand,
      yDims.reduce((a, b) => a * b, 1),
    ),
  );
  const wrt = opts.wrt ?? Object.keys(feeds).filter((k) => feeds[k].dtype === "float64");

  const fwd = g.clone();
  fwd.output(loss, "loss");
  const fs = await Session.create(fwd, { threads: 1 });
  const gs = await Session.create(grad(g, loss, wrt), { threads: 1 });
  const all = { ...feeds, R: rFeed };
  const res = await gs.run(all);

  const h = opts.h ?? 1e-6;
  const relErr: Record<string, number> = {};
  const analytic: Record<string, Float64Array> = {};
  for (const w of wrt) {
    const a = res[gradName(w)].data as Float64Array;
    const x = (feeds[w].data as Float64Array).slice();
    const numeric = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const at = async (v: number) => {
        const xi = x.slice();
        xi[i] = v;
        const out = await fs.run({ ...all, [w]: f64(feeds[w].dims, xi) });
        return (out.loss.data as Float64Array)[0];
      };
      numeric[i] = ((await at(x[i] + h)) - (await at(x[i] - h))) / (2 * h);
    }
    let diff = 0;
    let na = 0;
    let nn = 0;
    for (let i = 0; i < x.length; i++) {
      diff += (a[i] - numeric[i]) ** 2;
      na += a[i] ** 2;
      nn += numeric[i] ** 2;
    }
    relErr[w] = Math.sqrt(diff) / Math.max(Math.sqrt(na), Math.sqrt(nn), 1e-12);
    analytic[w] = a;
  }
  await Promise.all([s0.release(), fs.release(), gs.release()]);
  return { relErr, analytic };
}

// The op set: one function per ONNX op (opset 18), each inferring its output dtype and shape so a
// mistake fails here, at build time, naming the op and the shapes. Gradient rules live in
// gradients.ts; OPS.md lists both.

import { type DType, ONNX_DTYPE, fromNumbers, isFloat } from "./dtype.ts";
import { type Attr, Value } from "./graph.ts";
import { type Dim, type Shape, broadcast, formatShape, normAxis, numel, sameDim } from "./shape.ts";

export type Operand = Value | number;

const fail = (op: string, msg: string): never => {
  throw new Error(`${op}: ${msg}`);
};

function one(
  v: Value,
  op: string,
  inputs: (Value | undefined)[],
  shape: Shape,
  dtype: DType = v.dtype,
  attrs: Record<string, Attr> = {},
): Value {
  return v.graph.addNode(op, inputs, [{ dtype, shape }], attrs)[0];
}

/** Lift a JS number to a scalar constant of the other operand's dtype. */
function pair(op: string, a: Operand, b: Operand): [Value, Value] {
  if (typeof a === "number" && typeof b === "number") fail(op, "needs at least one tensor operand");
  const va = typeof a === "number" ? (b as Value).graph.scalar(a, (b as Value).dtype) : a;
  const vb = typeof b === "number" ? va.graph.scalar(b, va.dtype) : b;
  if (va.dtype !== vb.dtype) fail(op, `dtypes differ: ${va} and ${vb}`);
  return [va, vb];
}

function binary(op: string, a: Operand, b: Operand, outDtype?: DType): Value {
  const [va, vb] = pair(op, a, b);
  return one(va, op, [va, vb], broadcast(op, va.shape, vb.shape), outDtype ?? va.dtype);
}

function floatOnly(op: string, x: Value): void {
  if (!isFloat(x.dtype)) fail(op, `needs a float tensor, got ${x}`);
}

function unary(op: string, x: Value): Value {
  floatOnly(op, x);
  return one(x, op, [x], x.shape);
}

// ---- elementwise ----
export const add = (a: Operand, b: Operand) => binary("Add", a, b);
export const sub = (a: Operand, b: Operand) => binary("Sub", a, b);
export const mul = (a: Operand, b: Operand) => binary("Mul", a, b);
export const div = (a: Operand, b: Operand) => binary("Div", a, b);
export const pow = (a: Operand, b: Operand) => binary("Pow", a, b);
/** Elementwise maximum of two tensors (ONNX Max with two inputs). */
export const max = (a: Operand, b: Operand) => binary("Max", a, b);
export const equal = (a: Operand, b: Operand) => binary("Equal", a, b, "bool");
export const greater = (a: Operand, b: Operand) => binary("Greater", a, b, "bool");
export const less = (a: Operand, b: Operand) => binary("Less", a, b, "bool");
export const and = (a: Value, b: Value) => binary("And", a, b, "bool");

export const neg = (x: Value) => one(x, "Neg", [x], x.shape);
export const abs = (x: Value) => one(x, "Abs", [x], x.shape);
export const sign = (x: Value) => one(x, "Sign", [x], x.shape);
export const exp = (x: Value) => unary("Exp", x);
export const log = (x: Value) => unary("Log", x);
export const sqrt = (x: Value) => unary("Sqrt", x);
export const erf = (x: Value) => unary("Erf", x);
export const tanh = (x: Value) => unary("Tanh", x);
export const relu = (x: Value) => unary("Relu", x);
export const sigmoid = (x: Value) => unary("Sigmoid", x);
export const not = (x: Value) => one(x, "Not", [x], x.shape);
export const identity = (x: Value) => one(x, "Identity", [x], x.shape);

/** GELU, exact erf form as BERT uses: x/2 (1 + erf(x/sqrt 2)). */
// x / sqrt 2 written as a division: ONNX Runtime fuses that pattern (not the multiplication) into one Gelu kernel
export const gelu = (x: Value) => mul(mul(x, 0.5), add(erf(div(x, Math.SQRT2)), 1));

/** where(cond, a, b): a where cond is true, else b; numbers become constants of the other's dtype. */
export function where(cond: Value, a: Operand, b: Operand): Value {
  if (cond.dtype !== "bool") fail("Where", `condition must be bool, got ${cond}`);
  const [va, vb] = pair("Where", a, b);
  return one(
    va,
    "Where",
    [cond, va, vb],
    broadcast("Where", cond.shape, broadcast("Where", va.shape, vb.shape)),
  );
}

export function cast(x: Value, to: DType): Value {
  return one(x, "Cast", [x], x.shape, to, {
    to: { i: ONNX_DTYPE[to] },
  });
}

// ---- linear algebra ----
/** numpy matmul for rank >= 2 operands, batch dims broadcast. */
export function matmul(a: Value, b: Value): Value {
  if (a.dtype !== b.dtype) fail("MatMul", `dtypes differ: ${a} and ${b}`);
  return one(a, "MatMul", [a, b], matmulShape("MatMul", a, b));
}

function matmulShape(op: string, a: Value, b: Value): Shape {
  if (a.rank < 2 || b.rank < 2) fail(op, `operands must have rank >= 2, got ${a} and ${b}`);
  const [m, k1] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (!sameDim(k1, k2) && typeof k1 === "number" && typeof k2 === "number")
    fail(op, `inner dims differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
  return [...broadcast(op, a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];
}

/** Gemm: alpha * op(A) op(B) + beta * C for 2-D A, B (op = optional transpose); C broadcasts. */
export function gemm(
  a: Value,
  b: Value,
  c?: Value,
  o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {},
): Value {
  if (a.rank !== 2 || b.rank !== 2) fail("Gemm", `A and B must be 2-D, got ${a} and ${b}`);
  const [m, ka] = o.transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kb, n] = o.transB ? [b.shape[1], b.shape[0]] : b.shape;
  if (typeof ka === "number" && typeof kb === "number" && ka !== kb)
    fail("Gemm", `inner dims differ: ${a} x ${b} (transA ${!!o.transA}, transB ${!!o.transB})`);
  if (c) broadcast("Gemm", [m, n], c.shape);
  return one(a, "Gemm", c ? [a, b, c] : [a, b], [m, n], a.dtype, {
    transA: { i: o.transA ? 1 : 0 },
    transB: { i: o.transB ? 1 : 0 },
    alpha: { f: o.alpha ?? 1 },
    beta: { f: o.beta ?? 1 },
  });
}

/**
 * DynamicQuantizeLinear: float32 x -> [uint8 x_q, float32 scale, uint8 zero point], one scale for the
 * whole tensor, chosen at run time from x's range (which always includes 0).
 */
export function dynamicQuantizeLinear(x: Value): [Value, Value, Value] {
  if (x.dtype !== "float32") fail("DynamicQuantizeLinear", `needs float32, got ${x}`);
  const [q, scale, zp] = x.graph.addNode(
    "DynamicQuantizeLinear",
    [x],
    [
      { dtype: "uint8", shape: x.shape },
      { dtype: "float32", shape: [] },
      { dtype: "uint8", shape: [] },
    ],
  );
  return [q, scale, zp];
}

/** MatMulInteger: (a - aZero) (b - bZero) as int32, numpy matmul shapes; zero points optional. */
export function matMulInteger(a: Value, b: Value, aZero?: Value, bZero?: Value): Value {
  for (const v of [a, b])
    if (v.dtype !== "uint8" && v.dtype !== "int8") fail("MatMulInteger", `needs int8 or uint8, got ${v}`);
  const shape = matmulShape("MatMulInteger", a, b);
  return one(a, "MatMulInteger", [a, b, aZero, bZero], shape, "int32");
}

// ---- normalisation and softmax ----
export function softmax(x: Value, axis = -1): Value {
  floatOnly("Softmax", x);
  return one(x, "Softmax", [x], x.shape, x.dtype, { axis: { i: normAxis("Softmax", axis, x.rank) } });
}

export function logSoftmax(x: Value, axis = -1): Value {
  floatOnly("LogSoftmax", x);
  return one(x, "LogSoftmax", [x], x.shape, x.dtype, { axis: { i: normAxis("LogSoftmax", axis, x.rank) } });
}

/** LayerNormalization over the last axis: (x - mean) / sqrt(var + eps) * scale + bias. */
export function layerNorm(x: Value, scale: Value, bias: Value, epsilon: number): Value {
  floatOnly("LayerNormalization", x);
  const d = x.shape[x.rank - 1];
  for (const p of [scale, bias])
    if (p.rank !== 1 || !sameDim(p.shape[0], d))
      fail("LayerNormalization", `scale and bias must be [${d}] for input ${x}, got ${p}`);
  return one(x, "LayerNormalization", [x, scale, bias], x.shape, x.dtype, {
    axis: { i: -1 },
    epsilon: { f: epsilon },
  });
}

// ---- reductions ----
function reduce(op: string, x: Value, axes: number[], keepdims: boolean): Value {
  const ax = axes.map((a) => normAxis(op, a, x.rank));
  const shape = x.shape.flatMap((d, i) => (ax.includes(i) ? (keepdims ? [1] : []) : [d]));
  return one(x, op, [x, x.graph.ints(ax)], shape, x.dtype, { keepdims: { i: keepdims ? 1 : 0 } });
}
export const reduceSum = (x: Value, axes: number[], keepdims = false) =>
  reduce("ReduceSum", x, axes, keepdims);
export const reduceMean = (x: Value, axes: number[], keepdims = false) =>
  reduce("ReduceMean", x, axes, keepdims);
export const reduceMax = (x: Value, axes: number[], keepdims = false) =>
  reduce("ReduceMax", x, axes, keepdims);
export const reduceProd = (x: Value, axes: number[], keepdims = false) =>
  reduce("ReduceProd", x, axes, keepdims);
/** Sum of every element, as a scalar. */
export const sumAll = (x: Value) =>
  reduceSum(
    x,
    x.shape.map((_, i) => i),
  );

export function argMax(x: Value, axis = -1, keepdims = false): Value {
  const a = normAxis("ArgMax", axis, x.rank);
  const shape = x.shape.flatMap((d, i) => (i === a ? (keepdims ? [1] : []) : [d]));
  return one(x, "ArgMax", [x], shape, "int64", { axis: { i: a }, keepdims: { i: keepdims ? 1 : 0 } });
}

/** The k largest values along `axis` and their int64 indices. */
export function topK(x: Value, k: number, axis = -1): [Value, Value] {
  const a = normAxis("TopK", axis, x.rank);
  const shape = x.shape.map((d, i) => (i === a ? k : d));
  const [values, indices] = x.graph.addNode(
    "TopK",
    [x, x.graph.ints([k])],
    [
      { dtype: x.dtype, shape },
      { dtype: "int64", shape },
    ],
    { axis: { i: a } },
  );
  return [values, indices];
}

// ---- indexing and layout ----
/** Gather rows of `data` along `axis` by integer `indices` (embedding lookup with axis 0). */
export function gather(data: Value, indices: Value, axis = 0): Value {
  if (indices.dtype !== "int64" && indices.dtype !== "int32")
    fail("Gather", `indices must be int64 or int32, got ${indices}`);
  const a = normAxis("Gather", axis, data.rank);
  const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
  return one(data, "Gather", [data, indices], shape, data.dtype, { axis: { i: a } });
}

/**
 * Reshape to `dims`, where 0 copies the input dim at that position and -1 is inferred (ONNX rules).
 * Symbolic names in `dims` are not allowed: use 0 or -1 to carry them.
 */
export function reshape(x: Value, dims: number[]): Value {
  if (dims.filter((d) => d === -1).length > 1) fail("Reshape", `at most one -1 in ${formatShape(dims)}`);
  const out: Dim[] = dims.map((d, i) => (d === 0 ? x.shape[i] : d));
  if (out.some((d) => d === undefined)) fail("Reshape", `0 at a position past the rank of ${x}`);
  const inf = dims.indexOf(-1);
  const total = numel(x.shape);
  const known = numel(out.filter((_, i) => i !== inf));
  if (inf >= 0)
    out[inf] = inferDim(
      x.shape,
      out.filter((_, i) => i !== inf),
      `${x.name}:-1`,
    );
  else if (total !== undefined && known !== undefined && total !== known)
    fail("Reshape", `cannot reshape ${x} (${total} elements) to ${formatShape(dims)} (${known})`);
  return one(x, "Reshape", [x, x.graph.ints(dims)], out);
}

/** The dim that -1 stands for: numeric when possible, else the one leftover symbol, else a fresh name. */
function inferDim(input: Shape, rest: Shape, freshName: string): Dim {
  const left = [...input];
  const unmatched: Dim[] = [];
  for (const d of rest) {
    const i = left.indexOf(d);
    if (i >= 0) left.splice(i, 1);
    else unmatched.push(d);
  }
  const all = numel(input);
  const known = numel(rest);
  if (all !== undefined && known !== undefined) {
    if (known === 0 || all % known)
      fail("Reshape", `cannot infer -1: ${formatShape(input)} into ${formatShape(rest)}`);
    return all / known;
  }
  if (unmatched.length === 0) {
    const n = numel(left);
    if (n !== undefined) return n;
    if (left.length === 1) return left[0];
  }
  return freshName;
}

/** Reshape to a shape computed at run time (e.g. Shape(other)); `shape` states the static result. */
export function reshapeLike(x: Value, shape: Value, staticShape: Shape): Value {
  return one(x, "Reshape", [x, shape], staticShape);
}

export function transpose(x: Value, perm: number[]): Value {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i))
    fail("Transpose", `perm ${formatShape(perm)} is not a permutation of the axes of ${x}`);
  return one(
    x,
    "Transpose",
    [x],
    perm.map((p) => x.shape[p]),
    x.dtype,
    { perm: { ints: perm } },
  );
}

/** Swap the last two axes. */
export const transposeLast2 = (x: Value) =>
  transpose(
    x,
    [...x.shape.keys()].map((i) => (i === x.rank - 2 ? x.rank - 1 : i === x.rank - 1 ? x.rank - 2 : i)),
  );

export function unsqueeze(x: Value, axes: number[]): Value {
  const rank = x.rank + axes.length;
  const ax = axes.map((a) => normAxis("Unsqueeze", a, rank));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[j++]);
  return one(x, "Unsqueeze", [x, x.graph.ints(ax)], out);
}

export function squeeze(x: Value, axes: number[]): Value {
  const ax = axes.map((a) => normAxis("Squeeze", a, x.rank));
  for (const a of ax) if (x.shape[a] !== 1) fail("Squeeze", `axis ${a} of ${x} is not 1`);
  return one(
    x,
    "Squeeze",
    [x, x.graph.ints(ax)],
    x.shape.filter((_, i) => !ax.includes(i)),
  );
}

export function concat(xs: Value[], axis: number): Value {
  if (xs.length === 0) fail("Concat", "needs at least one input");
  const a = normAxis("Concat", axis, xs[0].rank);
  for (const x of xs)
    if (
      x.rank !== xs[0].rank ||
      x.dtype !== xs[0].dtype ||
      x.shape.some(
        (d, i) =>
          i !== a &&
          !sameDim(d, xs[0].shape[i]) &&
          typeof d === "number" &&
          typeof xs[0].shape[i] === "number",
      )
    )
      fail("Concat", `inputs do not fit along axis ${axis}: ${xs.join(", ")}`);
  const sizes = xs.map((x) => x.shape[a]);
  const total: Dim = sizes.every((s) => typeof s === "number")
    ? (sizes as number[]).reduce((p, s) => p + s, 0)
    : sizes.join("+");
  return one(
    xs[0],
    "Concat",
    xs,
    xs[0].shape.map((d, i) => (i === a ? total : d)),
    xs[0].dtype,
    { axis: { i: a } },
  );
}

/** Slice with step 1 along `axes` from `starts` to `ends` (ONNX clamping rules; negatives count from the end). */
export function slice(x: Value, starts: number[], ends: number[], axes: number[]): Value {
  const ax = axes.map((a) => normAxis("Slice", a, x.rank));
  const shape = x.shape.map((d, i) => {
    const k = ax.indexOf(i);
    if (k < 0) return d;
    const s = starts[k];
    const e = ends[k];
    if (typeof d === "number") {
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      return Math.max(clamp(e) - clamp(s), 0);
    }
    if (s >= 0 && e >= 0 && e < 2 ** 31) return e - s; // bounded by the caller; trusted
    return `${x.name}:slice${i}`;
  });
  return one(x, "Slice", [x, x.graph.ints(starts), x.graph.ints(ends), x.graph.ints(ax)], shape);
}

/** Broadcast `x` to `dims` (numbers and symbolic names); runtime dims come from `shape` when given. */
export function expand(x: Value, shape: Value, staticShape: Shape): Value {
  broadcast("Expand", x.shape, staticShape);
  return one(x, "Expand", [x, shape], staticShape);
}

/** The run-time shape of `x` as an int64 vector. */
export const shapeOf = (x: Value) => one(x, "Shape", [x], [x.rank], "int64");

/** A tensor of the run-time shape `shape` filled with `value`. */
export function constantOfShape(shape: Value, value: number, dtype: DType, staticShape: Shape): Value {
  const data = { dtype, dims: [1], data: fromNumbers(dtype, [value]) };
  return one(shape, "ConstantOfShape", [shape], staticShape, dtype, { value: { t: data } });
}

/** Running sum along `axis` (integer position ids; no gradient rule). */
export function cumSum(x: Value, axis: number): Value {
  return one(x, "CumSum", [x, x.graph.constant("int64", [normAxis("CumSum", axis, x.rank)], [])], x.shape);
}

/** Split `x` along `axis` into pieces of the run-time sizes `sizes` (int64 vector); static shapes given. */
export function split(x: Value, sizes: Value, axis: number, staticShapes: Shape[]): Value[] {
  return x.graph.addNode(
    "Split",
    [x, sizes],
    staticShapes.map((shape) => ({ dtype: x.dtype, shape })),
    {
      axis: { i: normAxis("Split", axis, x.rank) },
    },
  );
}

/** data with `updates` added at `indices` (ScatterND, reduction add): the gradient of Gather. */
export function scatterNDAdd(data: Value, indices: Value, updates: Value): Value {
  return one(data, "ScatterND", [data, indices, updates], data.shape, data.dtype, {
    reduction: { s: "add" },
  });
}

/** data with `updates` added at `indices` along `axis` (ScatterElements, reduction add): the gradient of TopK. */
export function scatterElementsAdd(data: Value, indices: Value, updates: Value, axis: number): Value {
  return one(data, "ScatterElements", [data, indices, updates], data.shape, data.dtype, {
    axis: { i: normAxis("ScatterElements", axis, data.rank) },
    reduction: { s: "add" },
  });
}

/** Pad with zeros: `pads` = [begin_0..begin_n, end_0..end_n] as a run-time int64 vector. */
export function pad(x: Value, pads: Value, staticShape: Shape): Value {
  return one(x, "Pad", [x, pads], staticShape);
}

// ---- masking helpers ----
/**
 * Additive attention bias from a [batch, seq] 0/1 mask: 0 where attended, `min` where masked,
 * shaped [batch, 1, 1, seq] to broadcast over heads and query positions (as HF's eager attention).
 */
export function attentionBias(mask: Value, dtype: DType): Value {
  const m = mask.dtype === dtype ? mask : cast(mask, dtype);
  const min = dtype === "float64" ? -1.7976931348623157e308 : -3.4028234663852886e38;
  return unsqueeze(mul(sub(1, m), min), [1, 2]);
}

/** Mean of `x` [batch, seq, d] over the positions where `mask` [batch, seq] is 1. */
export function maskedMean(x: Value, mask: Value): Value {
  const m = unsqueeze(mask.dtype === x.dtype ? mask : cast(mask, x.dtype), [2]);
  return div(reduceSum(mul(x, m), [1]), reduceSum(m, [1]));
}

/** L2-normalise rows along the last axis (eps as torch.nn.functional.normalize, 1e-12). */
export function l2Normalize(x: Value): Value {
  const norm = sqrt(reduceSum(mul(x, x), [-1], true));
  return div(x, max(norm, 1e-12));
}

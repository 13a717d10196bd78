// Gradient rules, one per differentiable op: given the node's inputs x, outputs y and the gradients
// dy of its outputs, return the gradient of each input that `need`s one (undefined = none). Rules
// use only standard ONNX ops (ops.ts), so the stock CPU and CUDA builds of ONNX Runtime run them.
// Broadcasting is undone by `sumTo`, with axes decided at build time (see shape.ts's convention).

import type { DType } from "./dtype.ts";
import type { Attr, Graph, Node, Value } from "./graph.ts";
import * as o from "./ops.ts";
import { numel, sameShape } from "./shape.ts";

export interface RuleArgs {
  node: Node;
  x: (Value | undefined)[];
  y: Value[];
  dy: (Value | undefined)[];
  need: boolean[];
}
export type Rule = (a: RuleArgs) => (Value | undefined)[];

/** Ops whose outputs carry no gradient (integer/boolean results, shapes, constants). */
export const NON_DIFFERENTIABLE = new Set([
  "Shape",
  "ConstantOfShape",
  "Equal",
  "Greater",
  "Less",
  "Not",
  "And",
  "ArgMax",
  "Sign",
]);

/** Sum `dy` over the axes along which `like` was broadcast, giving it `like`'s shape. */
export function sumTo(dy: Value, like: Value): Value {
  if (sameShape(dy.shape, like.shape)) return dy;
  const lead = dy.rank - like.rank;
  const axes = dy.shape.flatMap((d, i) => (i < lead || (like.shape[i - lead] === 1 && d !== 1) ? [i] : []));
  const summed = axes.length ? o.reduceSum(dy, axes, true) : dy;
  return lead > 0 ? o.squeeze(summed, [...Array(lead).keys()]) : summed;
}

/** The integer values of a constant input (axes, shapes), read from the graph's initializers. */
export function constInts(g: Graph, v: Value | undefined, what: string): number[] {
  const t = v && g.initializers.get(v.name);
  const data = t?.dtype === "int64" ? t.data : undefined;
  if (!(data instanceof BigInt64Array))
    throw new Error(
      `autodiff: ${what} must be a constant int64 tensor to differentiate (got ${v?.name ?? "none"})`,
    );
  return Array.from(data, Number);
}

const attrInt = (a: Attr | undefined, dflt: number) => (a && "i" in a ? a.i : dflt);
const attrFloat = (a: Attr | undefined, dflt: number) => (a && "f" in a ? a.f : dflt);

/** Broadcast a reduced gradient back over the reduced axes of `x`. */
function unreduce(dy: Value, x: Value, axes: number[], keepdims: boolean): Value {
  const kept = keepdims ? dy : o.unsqueeze(dy, axes);
  return o.expand(kept, o.shapeOf(x), x.shape);
}

/** Number of elements of `x` over `axes`, as a scalar of `dtype` (static when the dims are). */
function countOver(x: Value, axes: number[], dtype: DType): Value {
  const n = numel(axes.map((a) => x.shape[a]));
  if (n !== undefined) return x.graph.scalar(n, dtype);
  return o.cast(o.reduceProd(o.gather(o.shapeOf(x), x.graph.ints(axes)), [0]), dtype);
}

const normAxes = (axes: number[], rank: number) => axes.map((a) => (a < 0 ? a + rank : a));

export const RULES: Record<string, Rule> = {
  Identity: ({ dy }) => [dy[0]],
  Add: ({ x: [a, b], dy: [g] }) => [sumTo(g!, a!), sumTo(g!, b!)],
  Sub: ({ x: [a, b], dy: [g], need }) => [sumTo(g!, a!), need[1] ? sumTo(o.neg(g!), b!) : undefined],
  Mul: ({ x: [a, b], dy: [g], need }) => [
    need[0] ? sumTo(o.mul(g!, b!), a!) : undefined,
    need[1] ? sumTo(o.mul(g!, a!), b!) : undefined,
  ],
  Div: ({ x: [a, b], y: [y], dy: [g], need }) => [
    need[0] ? sumTo(o.div(g!, b!), a!) : undefined,
    need[1] ? sumTo(o.neg(o.mul(g!, o.div(y, b!))), b!) : undefined,
  ],
  Pow: ({ x: [a, b], y: [y], dy: [g], need }) => [
    need[0] ? sumTo(o.mul(g!, o.mul(b!, o.pow(a!, o.sub(b!, 1)))), a!) : undefined,
    need[1] ? sumTo(o.mul(g!, o.mul(y, o.log(a!))), b!) : undefined,
  ],
  // ties send the whole gradient to the first operand
  Max: ({ x: [a, b], dy: [g], need }) => {
    const first = o.not(o.less(a!, b!));
    return [
      need[0] ? sumTo(o.where(first, g!, 0), a!) : undefined,
      need[1] ? sumTo(o.where(first, 0, g!), b!) : undefined,
    ];
  },
  Neg: ({ dy: [g] }) => [o.neg(g!)],
  Abs: ({ x: [x], dy: [g] }) => [o.mul(g!, o.sign(x!))],
  Exp: ({ y: [y], dy: [g] }) => [o.mul(g!, y)],
  Log: ({ x: [x], dy: [g] }) => [o.div(g!, x!)],
  Sqrt: ({ y: [y], dy: [g] }) => [o.div(g!, o.mul(y, 2))],
  Erf: ({ x: [x], dy: [g] }) => [o.mul(g!, o.mul(o.exp(o.neg(o.mul(x!, x!))), 2 / Math.sqrt(Math.PI)))],
  Tanh: ({ y: [y], dy: [g] }) => [o.mul(g!, o.sub(1, o.mul(y, y)))],
  Sigmoid: ({ y: [y], dy: [g] }) => [o.mul(g!, o.mul(y, o.sub(1, y)))],
  Relu: ({ x: [x], dy: [g] }) => [o.where(o.greater(x!, 0), g!, 0)],
  Where: ({ x: [c, a, b], dy: [g], need }) => [
    undefined,
    need[1] ? sumTo(o.where(c!, g!, 0), a!) : undefined,
    need[2] ? sumTo(o.where(c!, 0, g!), b!) : undefined,
  ],
  Cast: ({ x: [x], dy: [g] }) => [x!.dtype.startsWith("float") ? o.cast(g!, x!.dtype) : undefined],

  MatMul: ({ x: [a, b], dy: [g], need }) => [
    need[0] ? sumTo(o.matmul(g!, o.transposeLast2(b!)), a!) : undefined,
    need[1] ? matmulWeightGrad(a!, b!, g!) : undefined,
  ],
  Gemm: ({ node, x: [a, b, c], dy: [g], need }) => {
    const transA = attrInt(node.attrs.transA, 0) === 1;
    const transB = attrInt(node.attrs.transB, 0) === 1;
    const alpha = attrFloat(node.attrs.alpha, 1);
    const beta = attrFloat(node.attrs.beta, 1);
    // dA' = alpha dy B'^T and dB' = alpha A'^T dy, transposed back where A or B was stored transposed
    const dA = transA
      ? o.gemm(b!, g!, undefined, { transA: transB, transB: true, alpha })
      : o.gemm(g!, b!, undefined, { transB: !transB, alpha });
    const dB = transB
      ? o.gemm(g!, a!, undefined, { transA: true, transB: transA, alpha })
      : o.gemm(a!, g!, undefined, { transA: !transA, alpha });
    return [
      need[0] ? dA : undefined,
      need[1] ? dB : undefined,
      need[2] ? sumTo(o.mul(g!, beta), c!) : undefined,
    ];
  },

  Softmax: ({ node, y: [y], dy: [g] }) => {
    const axis = attrInt(node.attrs.axis, -1);
    return [o.mul(y, o.sub(g!, o.reduceSum(o.mul(g!, y), [axis], true)))];
  },
  LogSoftmax: ({ node, y: [y], dy: [g] }) => {
    const axis = attrInt(node.attrs.axis, -1);
    return [o.sub(g!, o.mul(o.exp(y), o.reduceSum(g!, [axis], true)))];
  },
  LayerNormalization: ({ node, x: [x, scale, bias], dy: [g], need }) => {
    // recomputed in the input's dtype rather than taken from the op's float32 Mean/InvStdDev outputs
    const eps = attrFloat(node.attrs.epsilon, 1e-5);
    const xc = o.sub(x!, o.reduceMean(x!, [-1], true));
    const rstd = o.div(1, o.sqrt(o.add(o.reduceMean(o.mul(xc, xc), [-1], true), eps)));
    const xhat = o.mul(xc, rstd);
    const gx = o.mul(g!, scale!);
    const dx = o.mul(
      rstd,
      o.sub(o.sub(gx, o.reduceMean(gx, [-1], true)), o.mul(xhat, o.reduceMean(o.mul(gx, xhat), [-1], true))),
    );
    return [dx, need[1] ? sumTo(o.mul(g!, xhat), scale!) : undefined, need[2] ? sumTo(g!, bias!) : undefined];
  },

  ReduceSum: ({ node, x: [x, axes], dy: [g] }) => {
    const ax = normAxes(constInts(x!.graph, axes, "ReduceSum axes"), x!.rank);
    return [unreduce(g!, x!, ax, attrInt(node.attrs.keepdims, 1) === 1)];
  },
  ReduceMean: ({ node, x: [x, axes], dy: [g] }) => {
    const ax = normAxes(constInts(x!.graph, axes, "ReduceMean axes"), x!.rank);
    return [o.div(unreduce(g!, x!, ax, attrInt(node.attrs.keepdims, 1) === 1), countOver(x!, ax, x!.dtype))];
  },
  // the gradient is shared equally between tied maxima (as torch.amax)
  ReduceMax: ({ node, x: [x, axes], y: [y], dy: [g] }) => {
    const ax = normAxes(constInts(x!.graph, axes, "ReduceMax axes"), x!.rank);
    const keep = attrInt(node.attrs.keepdims, 1) === 1;
    const hit = o.cast(o.equal(x!, unreduce(y, x!, ax, keep)), x!.dtype);
    return [o.mul(unreduce(g!, x!, ax, keep), o.div(hit, o.reduceSum(hit, ax, true)))];
  },

  Gather: ({ node, x: [data, indices], dy: [g] }) => {
    if (attrInt(node.attrs.axis, 0) !== 0)
      throw new Error(`autodiff: Gather ${node.name} differentiates only along axis 0`);
    const idx = o.unsqueeze(indices!.dtype === "int64" ? indices! : o.cast(indices!, "int64"), [-1]);
    const zeros = o.constantOfShape(o.shapeOf(data!), 0, data!.dtype, data!.shape);
    return [o.scatterNDAdd(zeros, idx, g!)];
  },
  TopK: ({ node, x: [x], y: [, indices], dy: [g] }) => {
    const zeros = o.constantOfShape(o.shapeOf(x!), 0, x!.dtype, x!.shape);
    return [g ? o.scatterElementsAdd(zeros, indices, g, attrInt(node.attrs.axis, -1)) : undefined];
  },
  Reshape: ({ x: [x], dy: [g] }) => [o.reshapeLike(g!, o.shapeOf(x!), x!.shape)],
  Expand: ({ x: [x], dy: [g] }) => [sumTo(g!, x!)],
  Transpose: ({ node, dy: [g] }) => {
    const perm = (node.attrs.perm as { ints: number[] }).ints;
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [o.transpose(g!, inv)];
  },
  Unsqueeze: ({ x: [x, axes], dy: [g] }) => [o.squeeze(g!, constInts(x!.graph, axes, "Unsqueeze axes"))],
  Squeeze: ({ x: [x, axes], dy: [g] }) => [o.unsqueeze(g!, constInts(x!.graph, axes, "Squeeze axes"))],
  Concat: ({ node, x, dy: [g], need }) => {
    const axis = attrInt(node.attrs.axis, 0);
    const parts = x as Value[];
    const dims = parts.map((p) => p.shape[axis]);
    const sizes = dims.every((d) => typeof d === "number")
      ? g!.graph.ints(dims as number[])
      : o.concat(
          parts.map((p) => o.gather(o.shapeOf(p), g!.graph.ints([axis]))),
          0,
        );
    const pieces = o.split(
      g!,
      sizes,
      axis,
      parts.map((p) => p.shape),
    );
    return pieces.map((p, i) => (need[i] ? p : undefined));
  },
  Slice: ({ node, x: [x, starts, , axes], y: [y], dy: [g] }) => {
    // the gradient is dy padded with zeros: `begin` before each sliced axis, the rest after it
    const st = constInts(x!.graph, starts, "Slice starts");
    const ax = normAxes(constInts(x!.graph, axes, "Slice axes"), x!.rank);
    const begin = x!.shape.map((d, i) => {
      const k = ax.indexOf(i);
      if (k < 0) return 0;
      if (st[k] >= 0) return typeof d === "number" ? Math.min(st[k], d) : st[k];
      if (typeof d !== "number")
        throw new Error(
          `autodiff: Slice ${node.name}: a negative start on symbolic dim ${d} is not differentiable here`,
        );
      return Math.max(d + st[k], 0);
    });
    const b = x!.graph.ints(begin);
    const end = o.sub(o.sub(o.shapeOf(x!), o.shapeOf(y)), b);
    return [o.pad(g!, o.concat([b, end], 0), x!.shape)];
  },
};

/** dL/dB of A @ B; for 2-D weights B, fold A's batch dims into rows rather than reduce a batched product. */
function matmulWeightGrad(a: Value, b: Value, g: Value): Value {
  const k = a.shape[a.rank - 1];
  const n = g.shape[g.rank - 1];
  if (b.rank === 2 && a.rank > 2 && typeof k === "number" && typeof n === "number")
    return o.matmul(o.transpose(o.reshape(a, [-1, k]), [1, 0]), o.reshape(g, [-1, n]));
  return sumTo(o.matmul(o.transposeLast2(a), g), b);
}

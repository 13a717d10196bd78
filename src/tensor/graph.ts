// The graph builder: a list of ONNX nodes in topological order (the order they were made), named
// inputs, outputs and initializers, and a static dtype/shape for every value. Ops (ops.ts) add
// nodes through `addNode`; autodiff (autodiff.ts) clones a graph and appends gradient nodes.

import { BYTES, type DType, type TypedArray, fromNumbers } from "./dtype.ts";
import { type Dim, type Shape, formatShape, numel } from "./shape.ts";

/** Plain tensor data: a typed array and its dims (row-major). */
export interface TensorData {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

/**
 * Tensor data read from its file each time `data` is asked for, never kept: a frozen checkpoint
 * weight stays on disk while a graph is built and is read once more only when the graph is saved
 * for ONNX Runtime, one tensor at a time, so the weights are never held whole in JS beside ONNX
 * Runtime's copy. Callers that need the values several times read `data` once into a variable.
 */
class LazyTensor implements TensorData {
  constructor(
    readonly dtype: DType,
    readonly dims: number[],
    private readonly read: () => TypedArray,
  ) {}
  get data(): TypedArray {
    const data = this.read();
    if (data.length !== numel(this.dims))
      throw new Error(`lazy tensor: read ${data.length} values for dims ${formatShape(this.dims)}`);
    return data;
  }
}

export const lazyTensor = (dtype: DType, dims: number[], read: () => TypedArray): TensorData =>
  new LazyTensor(dtype, dims, read);

/** Whether `t` is read on demand (lazyTensor). */
export const isLazy = (t: TensorData): boolean => t instanceof LazyTensor;

/** Bytes of `t`'s data, without reading a lazy tensor. */
export const tensorBytes = (t: TensorData): number =>
  isLazy(t) ? numel(t.dims)! * BYTES[t.dtype] : t.data.byteLength;

/** An ONNX attribute, tagged with its ONNX kind (a JS number alone can't tell INT from FLOAT). */
export type Attr =
  | { i: number }
  | { f: number }
  | { ints: number[] }
  | { floats: number[] }
  | { s: string }
  | { t: TensorData };

export interface Node {
  op: string;
  /** The operator set domain; absent for standard ONNX ops ("com.microsoft": ONNX Runtime's contrib ops). */
  domain?: string;
  name: string;
  /** Value names; "" marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

/** A handle to a value of a graph: what ops take and return. */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

export class Graph {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly initializers = new Map<string, TensorData>();
  readonly nodes: Node[] = [];
  /** dtype and shape of every value, by name. */
  readonly info = new Map<string, ValueInfo>();
  private counter = 0;
  private constants = new Map<string, string>();

  constructor(readonly name = "xlir") {}

  /** A fresh name starting with `prefix`. */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.info.has(name));
    return name;
  }

  private declare(name: string, dtype: DType, shape: Shape): Value {
    if (this.info.has(name)) throw new Error(`graph ${this.name}: the name "${name}" is already used`);
    this.info.set(name, { name, dtype, shape: [...shape] });
    return new Value(this, name, dtype, shape);
  }

  /** A graph input (fed at run time); dims may be symbolic names such as "batch". */
  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.declare(name, dtype, shape);
    this.inputs.push({ name, dtype, shape: [...shape] });
    return v;
  }

  /** An initializer: a named constant stored with the model (frozen weights). */
  initializer(name: string, t: TensorData): Value {
    const n = numel(t.dims)!;
    if (!isLazy(t) && t.data.length !== n)
      throw new Error(`initializer ${name}: ${t.data.length} values do not fill dims ${formatShape(t.dims)}`);
    const v = this.declare(name, t.dtype, t.dims);
    this.initializers.set(name, t);
    return v;
  }

  /** A small constant (deduplicated by content), e.g. a scalar or an axes list. */
  constant(dtype: DType, values: readonly number[], dims: number[] = [values.length]): Value {
    const key = `${dtype}|${dims}|${values}`;
    const known = this.constants.get(key);
    if (known) return this.value(known);
    const v = this.initializer(this.fresh("const"), { dtype, dims, data: fromNumbers(dtype, values) });
    this.constants.set(key, v.name);
    return v;
  }

  scalar(value: number, dtype: DType): Value {
    return this.constant(dtype, [value], []);
  }

  /** A 1-D int64 constant, the form ONNX takes for shapes, axes and slice bounds. */
  ints(values: readonly number[]): Value {
    return this.constant("int64", values);
  }

  /** A handle to an existing value by name. */
  value(name: string): Value {
    const i = this.info.get(name);
    if (!i) throw new Error(`graph ${this.name}: no value named "${name}"`);
    return new Value(this, name, i.dtype, i.shape);
  }

  /** Append a node; `outs` gives each output's dtype and shape (inferred by the op). */
  addNode(
    op: string,
    inputs: (Value | undefined)[],
    outs: { dtype: DType; shape: Shape }[],
    attrs: Record<string, Attr> = {},
    domain?: string,
  ): Value[] {
    for (const v of inputs)
      if (v && v.graph !== this)
        throw new Error(`${op}: input ${v.name} belongs to another graph (${v.graph.name})`);
    const name = this.fresh(op);
    const outputs = outs.map((o, k) =>
      this.declare(outs.length === 1 ? `${name}_out` : `${name}_out${k}`, o.dtype, o.shape),
    );
    const names = inputs.map((v) => v?.name ?? "");
    while (names.at(-1) === "") names.pop(); // omitted trailing optional inputs are left out
    this.nodes.push({
      op,
      ...(domain ? { domain } : {}),
      name,
      inputs: names,
      outputs: outputs.map((v) => v.name),
      attrs,
    });
    return outputs;
  }

  /** Mark `v` as a graph output, under `name` if given (adds an Identity to rename). */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name && name !== v.name) {
      this.info.set(name, { name, dtype: v.dtype, shape: [...v.shape] });
      this.nodes.push({
        op: "Identity",
        name: this.fresh("Identity"),
        inputs: [v.name],
        outputs: [name],
        attrs: {},
      });
      out = new Value(this, name, v.dtype, v.shape);
    }
    if (this.outputs.some((o) => o.name === out.name))
      throw new Error(`graph ${this.name}: output "${out.name}" twice`);
    this.outputs.push({ name: out.name, dtype: out.dtype, shape: [...out.shape] });
    return out;
  }

  /** A copy sharing initializer data (never mutated) but with its own node and value lists. */
  clone(): Graph {
    const g = new Graph(this.name);
    g.inputs.push(...this.inputs.map((i) => ({ ...i, shape: [...i.shape] })));
    g.outputs.push(...this.outputs.map((o) => ({ ...o, shape: [...o.shape] })));
    for (const [k, t] of this.initializers) g.initializers.set(k, t);
    g.nodes.push(...this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] })));
    for (const [k, i] of this.info) g.info.set(k, i);
    for (const [k, c] of this.constants) g.constants.set(k, c);
    g.counter = this.counter;
    return g;
  }

  /** Bytes held by the initializers (weights and constants). */
  initializerBytes(): number {
    let bytes = 0;
    for (const t of this.initializers.values()) bytes += tensorBytes(t);
    return bytes;
  }

  /** Drop the nodes no graph output depends on and the initializers left unread (in place). */
  prune(): this {
    const needed = new Set(this.outputs.map((o) => o.name));
    const kept: Node[] = [];
    for (const n of [...this.nodes].reverse()) {
      if (!n.outputs.some((out) => needed.has(out))) {
        n.outputs.forEach((out) => this.info.delete(out));
        continue;
      }
      kept.push(n);
      n.inputs.forEach((i) => needed.add(i));
    }
    this.nodes.splice(0, this.nodes.length, ...kept.reverse());
    for (const name of [...this.initializers.keys()])
      if (!needed.has(name)) {
        this.initializers.delete(name);
        this.info.delete(name);
      }
    for (const [key, name] of this.constants) if (!this.info.has(name)) this.constants.delete(key);
    return this;
  }

  /** Turn an initializer into a graph input (e.g. to train it), keeping its data for the caller. */
  promoteToInput(name: string): TensorData {
    const t = this.initializers.get(name);
    if (!t) throw new Error(`graph ${this.name}: no initializer named "${name}"`);
    this.initializers.delete(name);
    this.inputs.push({ name, dtype: t.dtype, shape: [...t.dims] });
    return isLazy(t) ? { dtype: t.dtype, dims: t.dims, data: t.data } : t;
  }
}

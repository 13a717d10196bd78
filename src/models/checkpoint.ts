// A model folder as the graph builders see it: config.json plus model.safetensors, with the key-name
// variants real checkpoints use resolved in one place (`bert.` / `roberta.` / `model.` prefixes,
// TF-converted LayerNorm gamma/beta), and every tensor's dims checked against what the config implies.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Graph, type TensorData, type Value, lazyTensor } from "../tensor/graph.ts";
import { formatShape } from "../tensor/shape.ts";
import { type ModelConfig, readConfig } from "../weights/config.ts";
import { SafetensorsFile } from "../weights/safetensors.ts";

const PREFIXES = ["", "bert.", "roberta.", "model.", "encoder.", "xlm_roberta."];

export class Checkpoint implements WeightSource {
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    private readonly file: SafetensorsFile,
  ) {}

  /** Open `dir`: config.json and model.safetensors (clear errors when either is missing). */
  static open(dir: string): Checkpoint {
    if (!existsSync(dir))
      throw new Error(`model folder ${dir} does not exist; pass a local folder or a hub id`);
    const config = readConfig(join(dir, "config.json"));
    const weights = join(dir, "model.safetensors");
    if (!existsSync(weights))
      throw new Error(
        `${dir}: no model.safetensors (pytorch_model.bin is not read); convert the checkpoint to safetensors or pick a hub revision that has it`,
      );
    return new Checkpoint(dir, config, SafetensorsFile.open(weights));
  }

  /** The stored key for a canonical name, trying the prefixes and TF names real checkpoints use. */
  key(name: string): string | undefined {
    const variants = [
      name,
      name.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta"),
    ];
    for (const v of variants) for (const p of PREFIXES) if (this.file.has(p + v)) return p + v;
    return undefined;
  }

  has(name: string): boolean {
    return this.key(name) !== undefined;
  }

  /** Read a tensor as float32, checking its dims against `dims` (what the config implies). */
  read(name: string, dims: number[]): { data: Float32Array; dims: number[] } {
    return this.file.read(this.checkedKey(name, dims));
  }

  /** The tensor as lazyTensor float32 data (dims checked now, values read when asked for). */
  lazy(name: string, dims: number[]): TensorData {
    const key = this.checkedKey(name, dims);
    return lazyTensor("float32", [...dims], () => this.file.read(key).data);
  }

  /** The stored key of `name`, whose dims must be `dims`; errors say which side is wrong. */
  private checkedKey(name: string, dims: number[]): string {
    const key = this.key(name);
    if (!key)
      throw new Error(
        `${this.file.path}: no tensor "${name}" (also tried the prefixes ${PREFIXES.filter(Boolean).join(", ")}); the weights do not match config.json's ${this.config.modelType} layout`,
      );
    const stored = this.file.info(key).shape;
    if (stored.length !== dims.length || stored.some((d, i) => d !== dims[i]))
      throw new Error(
        `${this.file.path}: "${key}" has dims ${formatShape(stored)} but config.json implies ${formatShape(dims)}; the config and the weights belong to different models`,
      );
    return key;
  }

  /** Every tensor name as stored in the file. */
  storedNames(): string[] {
    return this.file.names();
  }

  /** A stored tensor by its stored name, as float32, unchecked (for copying checkpoints). */
  readStored(key: string): { data: Float32Array; dims: number[] } {
    return this.file.read(key);
  }

  close(): void {
    this.file.close();
  }
}

/** Where graph builders read weights from: a checkpoint, or plain tensors (projection, LoRA, merged). */
export interface WeightSource {
  has(name: string): boolean;
  read(name: string, dims: number[]): { data: Float32Array; dims: number[] };
  /** The weight as data read on demand (a file-backed source); undefined: use `read`. */
  lazy?(name: string, dims: number[]): TensorData | undefined;
}

/** Plain named tensors as a weight source, dims checked; `label` names it in errors. */
export function tensorSource(
  tensors: Map<string, { data: Float32Array; dims: number[] }>,
  label: string,
): WeightSource {
  return {
    has: (name) => tensors.has(name),
    read: (name, dims) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`${label}: no tensor "${name}"`);
      if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i]))
        throw new Error(`${label}: "${name}" has dims ${formatShape(t.dims)}, expected ${formatShape(dims)}`);
      return t;
    },
  };
}

/** `top` where it has the tensor, else `base` (merged LoRA weights over a checkpoint). */
export function overlay(top: WeightSource, base: WeightSource): WeightSource {
  return {
    has: (name) => top.has(name) || base.has(name),
    read: (name, dims) => (top.has(name) ? top : base).read(name, dims),
    lazy: (name, dims) => (top.has(name) ? undefined : base.lazy?.(name, dims)),
  };
}

/**
 * Binds weights to a graph: `p(name, dims)` gives the weight as a graph value named
 * `prefix + name` — a frozen initializer, or a graph input when `trainable(name)` says so (its
 * data goes to `trainableData`, keyed by graph name, for the optimizer). Each weight enters the
 * graph once however often it is used.
 */
export interface Params {
  (name: string, dims: number[]): Value;
  readonly graph: Graph;
  readonly trainableData: Map<string, Float32Array>;
}

export function params(
  src: WeightSource,
  g: Graph,
  opts: {
    trainable?: (name: string) => boolean;
    prefix?: string;
    trainableData?: Map<string, Float32Array>;
  } = {},
): Params {
  const trainableData = opts.trainableData ?? new Map<string, Float32Array>();
  const p = (name: string, dims: number[]): Value => {
    const key = (opts.prefix ?? "") + name;
    if (g.info.has(key)) return g.value(key);
    if (!opts.trainable?.(name)) {
      // frozen weights stay in the file until the graph is saved for ONNX Runtime
      const lazy = src.lazy?.(name, dims);
      if (lazy) return g.initializer(key, lazy);
      const t = src.read(name, dims);
      return g.initializer(key, { dtype: "float32", dims: t.dims, data: t.data });
    }
    const t = src.read(name, dims);
    trainableData.set(key, t.data);
    return g.input(key, "float32", t.dims);
  };
  return Object.assign(p, { graph: g, trainableData });
}

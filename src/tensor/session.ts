// A thin wrapper over onnxruntime-node's InferenceSession: CPU by default with a configurable number
// of intra-op threads, CUDA when asked for and present (else CPU with one warning), symbolic dims so
// one session serves every batch and sequence size, and typed arrays passed in without copies.

import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import ort from "onnxruntime-node";
import type { DType, TypedArray } from "./dtype.ts";
import { type Graph, type TensorData, isLazy } from "./graph.ts";
import { saveModel, serialize } from "./onnx.ts";

export interface SessionOptions {
  /** Intra-op threads; default: all cores. */
  threads?: number;
  /** "cuda" asks for the CUDA execution provider; it falls back to CPU with a warning. */
  device?: "cpu" | "cuda";
  /** ONNX Runtime graph optimisation; default "all". */
  optimization?: "disabled" | "basic" | "extended" | "all";
  /** Called instead of console.warn for the CUDA fallback (tests, progress bars). */
  warn?: (msg: string) => void;
  /**
   * A graph with more initializer bytes than this is saved with external data to a temp folder and
   * opened by path, rather than serialised in memory: the weights are then not held again as
   * protobuf bytes (peak memory of an NLLB-600M training session: 6.3 -> 3.0 GB). Default 256 MiB,
   * 8 MiB for graphs whose weights are still in their checkpoint (lazyTensor): those are read and
   * written one tensor at a time, so JS never holds them whole beside ONNX Runtime's copy. ONNX
   * Runtime maps the file: it is unlinked at once, but its disk space stays in use (in the temp
   * folder) until the session is released.
   */
  externalAboveBytes?: number;
  /**
   * ONNX Runtime's memory pattern: one block planned per input shape for all intermediate values.
   * Training sessions (forward + backward graphs) turn it off: an NLLB-E5 distillation step then
   * peaks 14% lower (bench:distill-step: 2986 -> 2560 MiB) at the same step time. Default true.
   */
  memoryPattern?: boolean;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: "float32",
  float64: "float64",
  float16: "float16",
  int64: "int64",
  int32: "int32",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
};

// Falling back to the CPU is said once to each place warnings go (console.warn: once per process),
// so an encoder and a scorer asked for CUDA in one run (xlir eval run --device cuda) warn once,
// not twice. Whether the provider is installed does not change while the process runs: looked up
// once.
let cudaInstalled: boolean | undefined;
const warnedSinks = new WeakSet<(msg: string) => void>();

function warnOnce(warn: (msg: string) => void, msg: string): void {
  if (warnedSinks.has(warn)) return;
  warnedSinks.add(warn);
  warn(msg);
}

/** Whether onnxruntime-node's CUDA provider library was installed beside its binding. */
function cudaProviderInstalled(): boolean {
  const bin = join(dirname(createRequire(import.meta.url).resolve("onnxruntime-node")), "..", "bin");
  const walk = (dir: string): boolean =>
    existsSync(dir) &&
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.startsWith("libonnxruntime_providers_cuda"),
    );
  return walk(bin);
}

export class Session {
  private constructor(
    private readonly inner: ort.InferenceSession,
    readonly device: "cpu" | "cuda",
  ) {}

  /** Open a session on a graph (serialised in memory), ONNX bytes, or a .onnx path (external data beside it). */
  static async create(model: Graph | Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    if (typeof model !== "string" && !(model instanceof Uint8Array)) {
      const lazy = [...model.initializers.values()].some(isLazy);
      if (model.initializerBytes() > (opts.externalAboveBytes ?? (lazy ? 8 : 256) * 2 ** 20)) {
        const dir = mkdtempSync(join(tmpdir(), "xlir-session-"));
        try {
          saveModel(model, join(dir, "model.onnx"));
          return await Session.create(join(dir, "model.onnx"), opts);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    const source = typeof model === "string" || model instanceof Uint8Array ? model : serialize(model);
    const base: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      graphOptimizationLevel: opts.optimization ?? "all",
      enableMemPattern: opts.memoryPattern ?? true,
    };
    const open = (providers: string[], quiet = false) => {
      // the failed CUDA attempt would otherwise print ONNX Runtime's own error log before our warning
      const o = {
        ...base,
        executionProviders: providers,
        ...(quiet ? { logSeverityLevel: 4 as const } : {}),
      };
      return typeof source === "string"
        ? ort.InferenceSession.create(source, o)
        : ort.InferenceSession.create(source, o);
    };
    if (opts.device === "cuda") {
      cudaInstalled ??= cudaProviderInstalled();
      let why =
        "xlir: CUDA execution provider not installed (reinstall onnxruntime-node without ONNXRUNTIME_NODE_INSTALL=skip on a CUDA machine); running on CPU";
      if (cudaInstalled)
        try {
          return new Session(await open(["cuda"], true), "cuda");
        } catch (e) {
          why = `xlir: CUDA execution provider unavailable (${(e as Error).message.split("\n")[0]}); running on CPU`;
        }
      warnOnce(opts.warn ?? console.warn, why);
    }
    return new Session(await open(["cpu"]), "cpu");
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /** Run with named inputs; returns the requested outputs (default: all) as plain tensor data. */
  async run(feeds: Record<string, TensorData>, outputs?: string[]): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds))
      ortFeeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.dims);
    const res = await this.inner.run(ortFeeds, outputs ?? (this.inner.outputNames as string[]));
    const out: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(res)) {
      out[name] = { dtype: t.type as DType, dims: [...t.dims], data: t.data as TypedArray };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}

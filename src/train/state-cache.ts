// The frozen NLLB encoder's output for each training text, computed once and kept on disk as
// float16 (`xlir distill --cache-nllb`): NLLB never changes during distillation, so every epoch,
// every resumed run and every new run over the same texts reads its states instead of running the
// 600M-parameter encoder again, which is most of a training step's time. One folder per NLLB
// checkpoint (its key names the model), holding states.f16 (each text's rows [tokens, d_model],
// appended batch by batch, no padding) and index.jsonl (per text: its hash, first row, row count).
// Rows are written before their index lines, so a crash can only leave unindexed rows, which are
// cut off and overwritten by the next append. Cost on disk: 2 x d_model bytes per NLLB token
// (2 KiB for NLLB-200's 1024; a 64-token text takes 128 KiB).

import { createHash } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Checkpoint } from "../models/checkpoint.ts";
import { nllbStatesGraph } from "../models/nllb-e5.ts";
import { quantizeLinears } from "../tensor/quantize.ts";
import { Session } from "../tensor/session.ts";
import { f16ToF32, f32ToF16 } from "../weights/safetensors.ts";
import { cacheFolder } from "./teacher-cache.ts";

/** The cache key of an NLLB row (language code, tokens, </s>): its states depend on nothing else. */
export const rowHash = (ids: readonly number[]) =>
  createHash("sha256").update(ids.join(",")).digest("hex").slice(0, 32);

export class StateCache {
  /** hash -> [first row, rows] */
  private readonly index = new Map<string, [number, number]>();
  private rows = 0;

  private constructor(
    readonly dir: string,
    readonly dim: number,
  ) {}

  static open(root: string, modelKey: string, dim: number): StateCache {
    const dir = cacheFolder(root, modelKey, dim, { model: modelKey, dtype: "float16" });
    const c = new StateCache(dir, dim);
    const indexPath = join(dir, "index.jsonl");
    const stored = existsSync(c.path) ? Math.floor(statSync(c.path).size / (2 * dim)) : 0;
    if (!existsSync(indexPath)) return c;
    const lines = readFileSync(indexPath, "utf8").split("\n");
    const valid: string[] = [];
    for (const line of lines.slice(0, -1)) {
      // a line without its newline, or naming rows past the stored ones, is a torn write
      let entry: [string, number, number];
      try {
        entry = JSON.parse(line) as [string, number, number];
      } catch {
        break;
      }
      const [hash, first, n] = entry;
      if (first !== c.rows || first + n > stored) break;
      c.index.set(hash, [first, n]);
      c.rows = first + n;
      valid.push(line);
    }
    if (valid.length !== lines.length - 1 || lines.at(-1))
      writeFileSync(indexPath, valid.map((l) => l + "\n").join(""));
    return c;
  }

  private get path(): string {
    return join(this.dir, "states.f16");
  }

  has(hash: string): boolean {
    return this.index.has(hash);
  }

  /** Bytes of states stored. */
  get bytes(): number {
    return this.rows * this.dim * 2;
  }

  /**
   * Append texts' states: `states` is a padded batch [texts, width, dim] (float32), of which text i
   * keeps its first `lengths[i]` rows.
   */
  append(hashes: readonly string[], lengths: readonly number[], states: Float32Array, width: number): void {
    const fd = openSync(this.path, existsSync(this.path) ? "r+" : "w");
    const entries: [string, number, number][] = [];
    let at = this.rows;
    try {
      ftruncateSync(fd, at * this.dim * 2);
      hashes.forEach((h, i) => {
        const n = lengths[i];
        const start = i * width * this.dim;
        const half = f32ToF16(states.subarray(start, start + n * this.dim));
        writeSync(
          fd,
          new Uint8Array(half.buffer, half.byteOffset, half.byteLength),
          0,
          half.byteLength,
          at * this.dim * 2,
        );
        entries.push([h, at, n]);
        at += n;
      });
    } finally {
      closeSync(fd);
    }
    appendFileSync(join(this.dir, "index.jsonl"), entries.map((e) => JSON.stringify(e) + "\n").join(""));
    for (const [h, first, n] of entries) this.index.set(h, [first, n]);
    this.rows = at;
  }

  /** A batch's states as float32 [texts, width, dim], each text's rows first, zeros after. */
  batch(hashes: readonly string[], width: number): Float32Array {
    const out = new Float32Array(hashes.length * width * this.dim);
    const fd = openSync(this.path, "r");
    try {
      hashes.forEach((h, i) => {
        const hit = this.index.get(h);
        if (!hit) throw new Error(`NLLB state cache ${this.dir}: no states for ${h}`);
        const [first, n] = hit;
        if (n > width) throw new Error(`NLLB state cache ${this.dir}: ${n} rows do not fit width ${width}`);
        const half = new Uint16Array(n * this.dim);
        readSync(fd, new Uint8Array(half.buffer), 0, half.byteLength, first * this.dim * 2);
        out.set(f16ToF32(half), i * width * this.dim);
      });
    } finally {
      closeSync(fd);
    }
    return out;
  }
}

/**
 * Run the NLLB encoder over the rows not yet in `cache` (in batches of similar length, so little
 * padding is computed) and append their states; the session is released before returning. dtype
 * int8 runs its linear layers in int8 (quantize.ts; bench:encode measured the NLLB-600M encoder's
 * throughput 4.7x float32's); the cache must then be keyed apart from float32 states.
 */
export async function fillStates(
  cache: StateCache,
  nllb: Checkpoint,
  rows: readonly { nllb: readonly number[]; stateHash: string }[],
  opts: { threads?: number; pad: number; batchSize?: number; dtype?: "float32" | "int8" },
  progress?: (done: number, total: number) => void,
): Promise<void> {
  const todo = [...new Map(rows.filter((r) => !cache.has(r.stateHash)).map((r) => [r.stateHash, r.nllb]))];
  if (!todo.length) return;
  todo.sort((a, b) => a[1].length - b[1].length);
  const graph = nllbStatesGraph(nllb);
  const session = await Session.create(opts.dtype === "int8" ? quantizeLinears(graph) : graph, {
    threads: opts.threads,
  });
  try {
    const size = opts.batchSize ?? 32;
    for (let start = 0; start < todo.length; start += size) {
      const part = todo.slice(start, start + size);
      const width = part[part.length - 1][1].length;
      const ids = new BigInt64Array(part.length * width).fill(BigInt(opts.pad));
      const mask = new BigInt64Array(part.length * width);
      part.forEach(([, row], b) =>
        row.forEach((id, j) => {
          ids[b * width + j] = BigInt(id);
          mask[b * width + j] = 1n;
        }),
      );
      const dims = [part.length, width];
      const out = await session.run(
        {
          nllb_input_ids: { dtype: "int64", dims, data: ids },
          nllb_attention_mask: { dtype: "int64", dims, data: mask },
        },
        ["nllb_hidden"],
      );
      cache.append(
        part.map(([h]) => h),
        part.map(([, row]) => row.length),
        out.nllb_hidden.data as Float32Array,
        width,
      );
      progress?.(Math.min(start + size, todo.length), todo.length);
    }
  } finally {
    await session.release();
  }
}

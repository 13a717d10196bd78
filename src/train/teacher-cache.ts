// Teacher embeddings computed once and kept on disk: the teacher is frozen, so every epoch, every
// resumed run and every new run over the same texts reuses them. One folder per teacher (its key
// names the model and revision), holding rows.f32 (float32 rows appended batch by batch) and
// index.jsonl (the text hash of each row). Rows are written before their index lines, so a crash
// can only leave unindexed rows, which are cut off and overwritten by the next append.

import { createHash } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

export const textHash = (role: string, text: string) =>
  createHash("sha256").update(`${role}\0${text}`).digest("hex").slice(0, 32);

/**
 * The folder under `root` of the cache for `key` (a model's identity) and `dim`, made with a
 * meta.json saying what it holds: another model or width gets another folder, never a mix.
 */
export function cacheFolder(root: string, key: string, dim: number, meta: Record<string, unknown>): string {
  const dir = join(root, createHash("sha256").update(`${key}|${dim}`).digest("hex").slice(0, 16));
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, "meta.json")))
    writeFileSync(join(dir, "meta.json"), JSON.stringify({ ...meta, dim }));
  return dir;
}

export class TeacherCache {
  /** hash -> (chunk, row): appends add chunks, so growing never copies what is stored. */
  private readonly rows = new Map<string, [Float32Array, number]>();
  private count = 0;

  private constructor(
    readonly dir: string,
    readonly dim: number,
  ) {}

  static open(root: string, teacherKey: string, dim: number): TeacherCache {
    const dir = cacheFolder(root, teacherKey, dim, { teacher: teacherKey });
    const c = new TeacherCache(dir, dim);
    const rowsPath = join(dir, "rows.f32");
    const indexPath = join(dir, "index.jsonl");
    if (existsSync(indexPath) && existsSync(rowsPath)) {
      const hashes = readFileSync(indexPath, "utf8").split("\n").filter(Boolean);
      const n = Math.min(Math.floor(statSync(rowsPath).size / (4 * dim)), hashes.length);
      const buf = readFileSync(rowsPath);
      const chunk = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + n * dim * 4));
      hashes.slice(0, n).forEach((h, i) => c.rows.set(h, [chunk, i]));
      c.count = n;
    }
    return c;
  }

  has(hash: string): boolean {
    return this.rows.has(hash);
  }

  get(hash: string): Float32Array {
    const hit = this.rows.get(hash);
    if (!hit) throw new Error(`teacher cache ${this.dir}: no row for ${hash}`);
    return hit[0].subarray(hit[1] * this.dim, (hit[1] + 1) * this.dim);
  }

  /** Append rows [n, dim] for `hashes` (rows first, then the index lines). */
  append(hashes: readonly string[], rows: Float32Array): void {
    const rowsPath = join(this.dir, "rows.f32");
    const fd = openSync(rowsPath, existsSync(rowsPath) ? "r+" : "w");
    try {
      ftruncateSync(fd, this.count * this.dim * 4);
      writeSync(
        fd,
        new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength),
        0,
        rows.byteLength,
        this.count * this.dim * 4,
      );
    } finally {
      closeSync(fd);
    }
    appendFileSync(join(this.dir, "index.jsonl"), hashes.map((h) => h + "\n").join(""));
    const chunk = rows.slice();
    hashes.forEach((h, i) => this.rows.set(h, [chunk, i]));
    this.count += hashes.length;
  }
}

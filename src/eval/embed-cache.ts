// Embeddings of evaluation texts, cached on disk so a re-run (another mode, another report, the
// pooled setting after the per-pair one) never encodes the same texts twice. An entry is keyed by
// everything that decides its vectors: the model (its id, which picks the family's prompts, and a
// fingerprint of its folder's files: a new revision or retrained weights are a new key), the data
// file the texts came from, the texts themselves (hashed), the role and the language. Entries are
// .npy files, readable with numpy.load. The model is loaded only when some entry is missing.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import type { Role } from "../encode/conventions.ts";
import type { EmbedOptions, Embeddings } from "../encode/encoder.ts";
import { npyBytes } from "../encode/npy.ts";
import type { TextSet } from "./tasks/task.ts";

/** Bump when the cache's layout or keys change meaning; old entries are then never read. */
const CACHE_VERSION = 1;

/** $XLIR_CACHE/embeddings, else $XDG_CACHE_HOME/xlir/embeddings, else ~/.cache/xlir/embeddings. */
export function defaultCacheDir(): string {
  if (process.env.XLIR_CACHE) return join(process.env.XLIR_CACHE, "embeddings");
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "xlir", "embeddings");
}

const sha256 = (parts: readonly string[]) => {
  const h = createHash("sha256");
  // Length-prefixed, so no two different lists hash the same text.
  for (const p of parts) h.update(`${p.length}:`).update(p);
  return h.digest("hex");
};

/**
 * The model's part of every key: its id and the path, size and modification time of each file of
 * its folder (a hub snapshot's folder is named by its commit). Cheap for multi-GB weights, and any
 * rewrite of a file (a new checkpoint) changes it; a copied folder is a miss, never a wrong hit.
 */
export function modelFingerprint(id: string, dir: string): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      const s = statSync(p); // follows the hub cache's symlinks to their blobs
      if (s.isDirectory()) walk(p);
      else files.push(`${relative(dir, p)}\t${s.size}\t${s.mtimeMs}`);
    }
  };
  walk(dir);
  return sha256([`xlir-embed-cache-${CACHE_VERSION}`, id, ...files]);
}

export interface CacheEntry {
  source: string;
  role: Role;
  /** The language given to the encoder (none: ""). */
  lang: string;
  texts: readonly string[];
}

/** The entry's file: <dir>/<model key>/<source>.<role>.<lang>.<key>.npy (readable names, exact key). */
export function entryPath(dir: string, modelKey: string, e: CacheEntry): string {
  const key = sha256([modelKey, e.source, e.role, e.lang, String(e.texts.length), ...e.texts]);
  const slug = (s: string) => s.replace(/[^\w.@-]+/g, "_").slice(0, 80);
  return join(
    dir,
    modelKey.slice(0, 24),
    `${slug(e.source)}.${e.role}.${slug(e.lang || "none")}.${key.slice(0, 32)}.npy`,
  );
}

/** A float32 [n, d] .npy as npyBytes writes it; undefined when the file is missing or not one. */
export function readNpy(path: string): Embeddings | undefined {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch {
    return undefined;
  }
  if (b.length < 10 || b.toString("latin1", 1, 6) !== "NUMPY") return undefined;
  const headerLen = b.readUInt16LE(8);
  const header = b.toString("latin1", 10, 10 + headerLen);
  const m = /'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+)\)/.exec(header);
  if (!m) return undefined;
  const [n, d] = [Number(m[1]), Number(m[2])];
  const start = 10 + headerLen;
  if (b.length !== start + n * d * 4) return undefined;
  // Copy into an aligned buffer: Buffer's pool offset need not be a multiple of 4.
  const data = new Float32Array(n * d);
  new Uint8Array(data.buffer).set(b.subarray(start));
  return { data, dims: [n, d] };
}

/** Through a temporary file and a rename, so an interrupted run never leaves a truncated entry. */
export function writeNpy(path: string, e: Embeddings): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, npyBytes(e.data, e.dims));
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(
      `cannot write the embedding cache ${path}: ${(err as Error).message}; pass --cache DIR or --no-cache`,
      {
        cause: err,
      },
    );
  }
}

/** What the cache did in a run: the evidence that a re-run encoded nothing. */
export interface EmbedStats {
  /** Text sets read from the cache / encoded. */
  hits: number;
  misses: number;
  textsEncoded: number;
  modelLoaded: boolean;
}

/** The part of the Encoder the cache calls. */
export interface EmbeddingModel {
  embed(texts: readonly string[], opts: EmbedOptions): Promise<Embeddings>;
  close(): Promise<void>;
}

export interface EmbedderOptions {
  modelKey: string;
  /** Cache folder; undefined: no disk cache (texts are still embedded once per run). */
  dir?: string;
  /** Loads the model, called at the first miss only. */
  load: () => Promise<EmbeddingModel>;
  /** The language to give the encoder for a set's language code (undefined: none). */
  encoderLang: (lang: string | undefined) => string | undefined;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface Embedder {
  /**
   * The set's vectors, read in `lang` when given (default the set's own language): Aggretriever's
   * target mode reads a query with another language's token set (--agg-target), and those vectors
   * are other vectors, kept apart in memory and on disk by the language.
   */
  embed(set: TextSet, role: Role, lang?: string): Promise<Embeddings>;
  /** Frees a set's vectors (in every language it was read in) when no later setting needs them. */
  drop(set: TextSet, role: Role): void;
  readonly stats: EmbedStats;
  close(): Promise<void>;
}

export function cachedEmbedder(opts: EmbedderOptions): Embedder {
  // By set object: tasks share one object per set between the settings that use it.
  const memo = new WeakMap<TextSet, Map<Role, Map<string, Promise<Embeddings>>>>();
  const stats: EmbedStats = { hits: 0, misses: 0, textsEncoded: 0, modelLoaded: false };
  let encoder: Promise<EmbeddingModel> | undefined;

  const compute = async (set: TextSet, role: Role, readAs: string | undefined): Promise<Embeddings> => {
    const lang = opts.encoderLang(readAs) ?? "";
    const entry: CacheEntry = { source: set.source, role, lang, texts: set.texts };
    const path = opts.dir === undefined ? undefined : entryPath(opts.dir, opts.modelKey, entry);
    const cached = path === undefined ? undefined : readNpy(path);
    if (cached && cached.dims[0] === set.texts.length) {
      stats.hits++;
      return cached;
    }
    stats.misses++;
    if (!encoder) {
      stats.modelLoaded = true;
      encoder = opts.load();
    }
    const enc = await encoder;
    const label = `embedding ${set.source} (${role}${readAs === set.lang ? "" : ` as ${readAs}`})`;
    const e = await enc.embed(set.texts, {
      role,
      ...(lang ? { lang } : {}),
      onProgress: (done, total) => opts.onProgress?.(label, done, total),
    });
    stats.textsEncoded += set.texts.length;
    if (path !== undefined) writeNpy(path, e);
    return e;
  };

  return {
    embed(set, role, lang) {
      const readAs = lang ?? set.lang;
      let byRole = memo.get(set);
      if (!byRole) memo.set(set, (byRole = new Map()));
      let byLang = byRole.get(role);
      if (!byLang) byRole.set(role, (byLang = new Map()));
      let p = byLang.get(readAs ?? "");
      if (!p) byLang.set(readAs ?? "", (p = compute(set, role, readAs)));
      return p;
    },
    drop(set, role) {
      memo.get(set)?.delete(role);
    },
    stats,
    async close() {
      if (encoder) await (await encoder).close();
    },
  };
}

// A collection: documents, their chunks and vectors in a store (store.ts: LanceDB files in a folder
// under the xlir home by default, or PostgreSQL), BM25 over the chunks (bm25-sync.ts) and
// collection.json (manifest.ts) beside them in the same store.
// This module opens, creates, describes and deletes collections and keeps what search reads in
// memory; indexer.ts adds and removes documents, search.ts searches.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { AggOptions } from "../encode/aggretriever.ts";
import { ColbertModel, type ColbertOptions } from "../encode/colbert.ts";
import type { Encoder, EncoderOptions } from "../encode/encoder.ts";
import { analyzerConfig, type AnalyzerOptions } from "../text/analyzer.ts";
import { storeAggVocabs, storedAggVocabs } from "./agg-vocab.ts";
import type { AggVocab } from "../encode/agg-vocab-file.ts";
import type { Bm25Index } from "./bm25.ts";
import { bm25Params, type Bm25Params } from "./bm25-similarity.ts";
import { loadCollectionBm25 } from "./bm25-sync.ts";
import { checkChunkOptions, type ChunkOptions } from "./chunker.ts";
import { type DocScore, MAX_SCORE } from "./doc-score.ts";
import { normalizeRows } from "./exact-search.ts";
import { collectionPath, unknownCollection } from "./home.ts";
import type { DocColumns, Store } from "./store.ts";
import { loadTokenSearch, type TokenSearch } from "./token-vectors.ts";
import {
  checkStoreOptions,
  collectionExists,
  collectionLocation,
  dropStore,
  listStoreCollections,
  type LocateOptions,
  openStore,
  storeUrl,
  storeWhere,
} from "./stores.ts";
import { lockCollection } from "./lock.ts";
import {
  type AggSettings,
  checkSameAgg,
  checkSameEncoder,
  COLLECTION_FORMAT_VERSION,
  type EncoderCheckOptions,
  type DenseEncoderSpec,
  type EncoderSpec,
  type MultiVectorEncoderSpec,
  type Manifest,
  MANIFEST_FILE,
  manifestBytes,
  manifestPath,
  parseManifest,
  readManifest,
  type Similarity,
} from "./manifest.ts";

/** From this many chunks up, dense search goes through an ANN index by default (built when indexing). */
export const DEFAULT_ANN_THRESHOLD = 200_000;
/**
 * The same for multi-vector collections (a PLAID index): exact MaxSim reads every token of every
 * chunk (~30-200 per chunk), so it pays off far sooner than a single-vector index.
 */
export const DEFAULT_MULTI_VECTOR_THRESHOLD = 10_000;

export interface CreateOptions {
  /** The encoder of a dense collection, a ColBERT model for a multi-vector one, or "bm25" for a lexical-only one. */
  model: Encoder | ColbertModel | "bm25";
  /** Hub revision the encoder was loaded at (recorded, and used to load it for queries). */
  revision?: string | null;
  /** Chunk windows (dense collections); default: the encoder's max length, overlap 1/8 of it. */
  chunking?: Partial<ChunkOptions>;
  docScore?: DocScore;
  /** Default: cosine for encoders that normalise their vectors, dot product otherwise. */
  similarity?: Similarity;
  annThreshold?: number;
  /** Extend a collection whose model's weights changed since it was created. */
  allowModelChange?: boolean;
  analyzer?: AnalyzerOptions;
  bm25?: Partial<Bm25Params>;
}

export type { LocateOptions } from "./stores.ts";

/** What search holds in memory: every document's filter fields and every chunk's document. */
export interface CollectionView {
  docs: DocColumns;
  docIndex: Map<string, number>;
  chunkIds: string[];
  chunkIndex: Map<string, number>;
  /** Document number of each chunk; -1 for a chunk of no live document (left by a crash). */
  chunkDoc: Int32Array;
  /** [chunks, dims], unit rows for cosine collections; null until exact search needs them. */
  vectors: Float32Array | null;
  /** Multi-vector collections: every live chunk's token vectors (with the PLAID index, or not), once searched. */
  tokens: { indexed?: TokenSearch; exact?: TokenSearch };
}

/** The encoder spec a collection records for `enc`. */
export function encoderSpec(
  enc: Encoder,
  revision: string | null = null,
  similarity?: Similarity,
): DenseEncoderSpec {
  return {
    kind: "dense",
    model: existsSync(enc.id) ? resolve(enc.id) : enc.id,
    revision,
    dims: enc.dim,
    normalize: enc.settings.normalize,
    maxLength: enc.maxLength,
    similarity: similarity ?? (enc.settings.normalize ? "cosine" : "dot"),
    dtype: enc.dtype,
    prompts: { ...enc.settings.prompts },
    fingerprint: enc.fingerprint,
    ...(enc.aggMode === null ? {} : { agg: { mode: enc.aggMode, lowercase: enc.settings.lowerCase } }),
  };
}

/** The spec a multi-vector collection records for a ColBERT model. */
export function colbertSpec(m: ColbertModel, revision: string | null = null): MultiVectorEncoderSpec {
  return {
    kind: "multi-vector",
    model: existsSync(m.id) ? resolve(m.id) : m.id,
    revision,
    dims: m.dim,
    maxLength: m.maxLength,
    fingerprint: m.fingerprint,
  };
}

export class Collection {
  private viewCache: CollectionView | null = null;
  private bm25Cache: Bm25Index | null = null;
  private encoderCache: Encoder | null = null;
  private colbertCache: ColbertModel | null = null;
  private ownsEncoder = false;
  private ownsColbert = false;
  private aggVocabs = new Map<string, AggVocab>();

  private constructor(
    readonly name: string,
    /** The collection's folder (embedded store), or its server and name (PostgreSQL), for messages. */
    readonly dir: string,
    public manifest: Manifest,
    readonly store: Store,
  ) {}

  /** Opens an existing collection; a one-line error lists the ones there are when it does not exist. */
  static async open(name: string, opts: LocateOptions = {}): Promise<Collection> {
    if (storeUrl(opts) === null) {
      const dir = collectionPath(name, opts.home);
      if (!existsSync(manifestPath(dir))) throw unknownCollection(name, opts.home);
      return Collection.openDir(name, dir);
    }
    if (!(await collectionExists(name, opts))) {
      const names = await listStoreCollections(opts);
      throw new Error(
        `no collection "${name}" in ${storeWhere(opts)}: ` +
          (names.length
            ? `the collections there are ${names.join(", ")}`
            : `there is none yet; create one with xlir index ${name} --store URL --model ID --input FILE`),
      );
    }
    return Collection.fromStore(name, collectionLocation(name, opts), await openStore(name, opts, null));
  }

  static async openDir(name: string, dir: string): Promise<Collection> {
    const manifest = readManifest(dir);
    const dims = manifest.encoder.kind === "dense" ? manifest.encoder.dims : null;
    const { LanceStore } = await import("./lance-store.ts");
    return Collection.withVocabs(new Collection(name, dir, manifest, await LanceStore.open(dir, dims)));
  }

  /** A collection over an opened store, its manifest read from it (closed again on failure). */
  private static async fromStore(name: string, where: string, store: Store): Promise<Collection> {
    try {
      const bytes = await store.readBlob(MANIFEST_FILE);
      if (bytes === null) throw new Error(`${where} is not an xlir collection (no ${MANIFEST_FILE})`);
      const manifest = parseManifest(bytes.toString("utf8"), `${where}: ${MANIFEST_FILE}`);
      return await Collection.withVocabs(new Collection(name, where, manifest, store));
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /** Reads the stored token sets (Aggretriever target mode), so that aggVocab can answer at once. */
  private static async withVocabs(col: Collection): Promise<Collection> {
    col.aggVocabs = await storedAggVocabs(col.store);
    return col;
  }

  static async exists(name: string, opts: LocateOptions = {}): Promise<boolean> {
    return collectionExists(name, opts);
  }

  /**
   * Opens the collection, or creates it when it does not exist. An existing one must have been built
   * with the same encoder and chunking; other settings given here must match too.
   */
  static async openOrCreate(name: string, opts: CreateOptions & LocateOptions): Promise<Collection> {
    const wanted = newManifest(name, opts);
    if (!(await collectionExists(name, opts))) {
      if (checkStoreOptions(opts) === null) mkdirSync(collectionPath(name, opts.home), { recursive: true });
      const dims = wanted.encoder.kind === "dense" ? wanted.encoder.dims : null;
      const store = await openStore(name, opts, dims, true);
      const unlock = await store.lock().catch(async (e) => {
        await store.close();
        throw e;
      });
      try {
        await store.writeBlob(MANIFEST_FILE, manifestBytes(wanted)); // last: no manifest, no collection yet
        const col = new Collection(name, collectionLocation(name, opts), wanted, store);
        col.useModel(opts.model);
        return col;
      } finally {
        await unlock();
      }
    }
    const col = await Collection.open(name, opts);
    try {
      checkSameEncoder(name, col.manifest.encoder, wanted.encoder, "index into", opts);
      const [a, b] = [col.manifest.chunking, wanted.chunking];
      if (opts.chunking && a && b && (a.tokens !== b.tokens || a.overlap !== b.overlap)) {
        throw new Error(
          `collection "${name}" is chunked at ${a.tokens} tokens with overlap ${a.overlap}, not ` +
            `${b.tokens}/${b.overlap}: leave --chunk-tokens/--overlap out or create a new collection`,
        );
      }
      col.useModel(opts.model, opts);
      return col;
    } catch (e) {
      await col.close();
      throw e;
    }
  }

  /** Writes the manifest back (after an ANN index is recorded in it). */
  async saveManifest(): Promise<void> {
    await this.store.writeBlob(MANIFEST_FILE, manifestBytes(this.manifest));
  }

  /** One vector per chunk. */
  get dense(): boolean {
    return this.manifest.encoder.kind === "dense";
  }

  /** Token vectors per chunk, scored by MaxSim (ColBERT). */
  get multiVector(): boolean {
    return this.manifest.encoder.kind === "multi-vector";
  }

  /** Searched with a neural model (dense or multi-vector), not BM25 alone. */
  get neural(): boolean {
    return this.manifest.encoder.kind !== "bm25";
  }

  private useModel(model: CreateOptions["model"], opts: EncoderCheckOptions = {}): void {
    if (model instanceof ColbertModel) this.useColbert(model, opts);
    else if (model !== "bm25") this.useEncoder(model, opts);
  }

  /** Uses an already loaded ColBERT model for this multi-vector collection (not closed by us). */
  useColbert(model: ColbertModel, opts: EncoderCheckOptions = {}): void {
    const built = this.manifest.encoder;
    checkSameEncoder(
      this.name,
      built,
      colbertSpec(model, built.kind === "bm25" ? null : built.revision),
      "use",
      opts,
    );
    this.colbertCache = model;
  }

  /** The collection's ColBERT model, loaded from the manifest's model id the first time. */
  async colbert(opts: ColbertOptions & EncoderCheckOptions = {}): Promise<ColbertModel> {
    if (this.colbertCache) return this.colbertCache;
    const spec = this.manifest.encoder;
    if (spec.kind !== "multi-vector")
      throw new Error(`collection "${this.name}" is not a multi-vector (ColBERT) collection`);
    const m = await ColbertModel.load(spec.model, {
      ...opts,
      hub: { ...opts.hub, revision: spec.revision ?? undefined },
    });
    try {
      checkSameEncoder(this.name, spec, colbertSpec(m, spec.revision), "use", opts);
    } catch (e) {
      await m.close();
      throw e;
    }
    this.colbertCache = m;
    this.ownsColbert = true;
    return m;
  }

  /**
   * Multi-vector collections: the token vectors of the view's chunks, with the PLAID index when
   * `useIndex` and one is built (without: every chunk scored exactly).
   */
  async tokenSearch(useIndex: boolean): Promise<TokenSearch> {
    const spec = this.manifest.encoder;
    if (spec.kind !== "multi-vector")
      throw new Error(`collection "${this.name}" is not a multi-vector (ColBERT) collection`);
    const v = await this.view(false);
    const withIndex = useIndex && this.manifest.ann.index !== null;
    const key = withIndex ? "indexed" : "exact";
    v.tokens[key] ??= await loadTokenSearch(this.store, v.chunkIds, liveHashes(v), spec.dims, withIndex);
    return v.tokens[key];
  }

  /** Takes the collection's write lock; returns its release. */
  lock(): Promise<() => Promise<void>> {
    return this.store.lock();
  }

  /** Uses an already loaded encoder for this collection (checked against the manifest; not closed by us). */
  useEncoder(enc: Encoder, opts: EncoderCheckOptions = {}): void {
    const built = this.manifest.encoder;
    if (built.kind !== "dense") {
      throw new Error(`collection "${this.name}" is lexical only (bm25): it takes no --model; leave it out`);
    }
    checkSameEncoder(this.name, built, encoderSpec(enc, built.revision, built.similarity), "use", opts);
    this.encoderCache = enc;
  }

  /**
   * The collection's encoder, loading it from the manifest's model id the first time, with the
   * prefixes the collection recorded (prefixes in `opts` that differ from them are refused).
   */
  async encoder(opts: EncoderOptions & EncoderCheckOptions = {}): Promise<Encoder> {
    if (this.encoderCache) return this.encoderCache;
    const spec = this.manifest.encoder;
    if (spec.kind === "multi-vector")
      throw new Error(`collection "${this.name}" is multi-vector (ColBERT): it has no single-vector encoder`);
    if (spec.kind !== "dense")
      throw new Error(`collection "${this.name}" is lexical only (bm25): use --mode bm25`);
    const { Encoder } = await import("../encode/encoder.ts");
    const enc = await Encoder.load(spec.model, {
      ...opts,
      dtype: opts.dtype ?? spec.dtype,
      hub: { ...opts.hub, revision: spec.revision ?? undefined },
      prompts: { ...spec.prompts, ...opts.prompts },
      agg: this.aggOptions(opts.agg) ?? opts.agg,
    });
    try {
      checkSameEncoder(this.name, spec, encoderSpec(enc, spec.revision, spec.similarity), "use", opts);
    } catch (e) {
      await enc.close();
      throw e;
    }
    this.encoderCache = enc;
    this.ownsEncoder = true;
    return enc;
  }

  /** The Aggretriever settings the collection was built with; undefined for other models. */
  get agg(): AggSettings | undefined {
    return this.manifest.encoder.kind === "dense" ? this.manifest.encoder.agg : undefined;
  }

  /**
   * How to load this collection's Aggretriever encoder: its recorded mode and lowercasing, and its
   * stored token sets (`given` settings that differ are refused); undefined for other models.
   */
  aggOptions(given: Partial<AggSettings> = {}): AggOptions | undefined {
    const agg = this.agg;
    if (agg === undefined) return undefined;
    checkSameAgg(this.name, agg, given, "use");
    return { mode: agg.mode, lowercase: agg.lowercase, vocab: (lang) => this.aggVocab(lang)?.ids };
  }

  /** The token set stored for `lang` (agg-vocab/<lang>.json, read when the collection opened); undefined when there is none. */
  aggVocab(lang: string): AggVocab | undefined {
    return this.aggVocabs.get(lang);
  }

  /** Every stored token set, by language. */
  get aggVocabSets(): ReadonlyMap<string, AggVocab> {
    return this.aggVocabs;
  }

  /** Stores the token sets not stored yet (the caller holds the lock); returns their languages. */
  async addAggVocabs(given: Iterable<{ vocab: AggVocab; path: string }>): Promise<string[]> {
    const langs = await storeAggVocabs(this.store, this.name, given);
    await Collection.withVocabs(this);
    return langs;
  }

  /** BM25 over the chunks, as committed. */
  async bm25(): Promise<Bm25Index> {
    this.bm25Cache ??= await loadCollectionBm25(this.store, this.manifest);
    return this.bm25Cache;
  }

  /** Hands a BM25 index kept up to date by the writer to later searches (null: read it again). */
  setBm25(index: Bm25Index | null): void {
    this.bm25Cache = index;
  }

  /** Documents and chunks as committed; vectors loaded when `withVectors`. */
  async view(withVectors: boolean): Promise<CollectionView> {
    let v = this.viewCache;
    if (v === null) {
      const docs = byId(await this.store.readDocs());
      const docIndex = new Map(docs.ids.map((id, i) => [id, i]));
      const chunks = await this.store.readChunks(withVectors);
      const chunkDoc = Int32Array.from(chunks.docIds, (id, c) => {
        const d = docIndex.get(id);
        return d !== undefined && docs.hashes[d] === chunks.docHashes[c] ? d : -1;
      });
      v = {
        docs,
        docIndex,
        chunkIds: chunks.ids,
        chunkIndex: new Map(chunks.ids.map((id, i) => [id, i])),
        chunkDoc,
        vectors: chunks.vectors,
        tokens: {},
      };
      this.viewCache = v;
    } else if (withVectors && v.vectors === null && this.dense) {
      // read again: chunk order must match the vectors'
      this.viewCache = null;
      return this.view(true);
    }
    if (withVectors && v.vectors !== null && this.cosine && !normalized.has(v.vectors)) {
      normalizeRows(v.vectors, (this.manifest.encoder as DenseEncoderSpec).dims);
      normalized.add(v.vectors);
    }
    return v;
  }

  get cosine(): boolean {
    return this.manifest.encoder.kind === "dense" && this.manifest.encoder.similarity === "cosine";
  }

  /** Forget what is cached in memory (after writes). */
  invalidate(): void {
    this.viewCache = null;
  }

  async close(): Promise<void> {
    if (this.ownsEncoder) await this.encoderCache?.close();
    if (this.ownsColbert) await this.colbertCache?.close();
    this.encoderCache = null;
    this.colbertCache = null;
    await this.store.close();
  }

  /** Throws a one-line error naming a damaged table file (row counts alone come from LanceDB's manifests). */
  async info(): Promise<CollectionInfo> {
    await this.store.verify();
    const docs = await this.store.readDocs();
    const langs: Record<string, number> = {};
    for (const l of docs.langs) langs[l] = (langs[l] ?? 0) + 1;
    return {
      name: this.name,
      path: this.dir,
      created: this.manifest.created,
      encoder: this.manifest.encoder,
      chunking: this.manifest.chunking,
      docScore: this.manifest.docScore,
      documents: docs.ids.length,
      chunks: await this.store.countChunks(),
      languages: Object.fromEntries(Object.entries(langs).sort((a, b) => b[1] - a[1])),
      ann: this.manifest.ann,
      store: this.store.kind,
      bytes: await this.store.sizeBytes(),
    };
  }
}

// Vector arrays already scaled to unit rows (so a cached view is normalised once).
const normalized = new WeakSet<Float32Array>();

export interface CollectionInfo {
  name: string;
  path: string;
  created: string;
  encoder: EncoderSpec;
  chunking: Manifest["chunking"];
  docScore: DocScore;
  documents: number;
  chunks: number;
  /** Documents per language, most first. */
  languages: Record<string, number>;
  ann: Manifest["ann"];
  /** "lance" (embedded) or "postgres". */
  store: string;
  bytes: number;
}

/** Deletes a collection: its folder, or its schema on the server (refused while a writer holds it). */
export async function deleteCollection(name: string, opts: LocateOptions = {}): Promise<void> {
  const url = storeUrl(opts);
  if (url === null) {
    const dir = collectionPath(name, opts.home);
    if (!existsSync(manifestPath(dir))) throw unknownCollection(name, opts.home);
    const unlock = lockCollection(dir, name);
    unlock();
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const col = await Collection.open(name, opts); // the unknown-collection error, if it is one
  const unlock = await col.lock().catch(async (e) => {
    await col.close();
    throw e;
  });
  await unlock();
  await col.close();
  await dropStore(name, url);
}

function newManifest(name: string, opts: CreateOptions): Manifest {
  let encoder: EncoderSpec;
  let chunking: Manifest["chunking"] = null;
  if (opts.model === "bm25") {
    if (opts.chunking?.tokens !== undefined || opts.chunking?.overlap !== undefined) {
      throw new Error(
        "--chunk-tokens/--overlap need a neural model's tokenizer: bm25 collections index whole documents",
      );
    }
    encoder = { kind: "bm25" };
  } else {
    encoder =
      opts.model instanceof ColbertModel
        ? colbertSpec(opts.model, opts.revision ?? null)
        : encoderSpec(opts.model, opts.revision ?? null, opts.similarity);
    const tokens = opts.chunking?.tokens ?? opts.model.maxLength;
    chunking = checkChunkOptions(
      { tokens, overlap: opts.chunking?.overlap ?? Math.floor(tokens / 8) },
      opts.model.maxLength,
    );
  }
  const threshold =
    opts.annThreshold ??
    (encoder.kind === "multi-vector" ? DEFAULT_MULTI_VECTOR_THRESHOLD : DEFAULT_ANN_THRESHOLD);
  if (!Number.isInteger(threshold) || threshold < 0)
    throw new Error(`ANN threshold must be an integer >= 0, got ${threshold}`);
  return {
    format: "xlir-collection",
    version: COLLECTION_FORMAT_VERSION,
    name,
    created: new Date().toISOString(),
    encoder,
    chunking,
    docScore: opts.docScore ?? MAX_SCORE,
    analyzer: analyzerConfig(opts.analyzer ?? {}),
    bm25: bm25Params(opts.bm25),
    ann: { threshold, index: null },
  };
}

/** Each chunk's document hash while that document is live (its chunks' docHash), else null. */
export function liveHashes(v: CollectionView): (string | null)[] {
  return Array.from(v.chunkDoc, (d) => (d >= 0 ? v.docs.hashes[d] : null));
}

/**
 * The documents in id order, whatever order the store gave them in: document numbers break ties in
 * ranking (the smaller wins), so equal scores rank the same way in every store and after a copy.
 */
function byId(docs: DocColumns): DocColumns {
  const { ids } = docs;
  let sorted = true;
  for (let i = 1; i < ids.length && sorted; i++) sorted = ids[i - 1] < ids[i];
  if (sorted) return docs;
  const order = ids.map((_, i) => i).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0));
  const take = <T>(col: T[]) => order.map((i) => col[i]);
  return {
    ids: take(ids),
    hashes: take(docs.hashes),
    langs: take(docs.langs),
    titles: take(docs.titles),
    metadata: take(docs.metadata),
  };
}

// Adding and deleting documents, batch by batch.
//
// Documents are taken in batches of `batchSize` by input position. For each batch: skip the
// documents already committed with the same content hash (so a rerun of the same command resumes
// where the last one stopped), resolve or detect their language, cut them into chunks, encode
// the chunks, then commit: old chunks of updated documents out, new chunks in, and last the
// document rows (one atomic LanceDB commit each). A document counts as indexed only once its row
// is in, so a crash anywhere loses at most the batch in flight; chunks it left behind belong to
// no live document and are swept by the next writer. Fixed batch boundaries also mean a resumed
// run encodes the same texts in the same batches as an uninterrupted one: bit-identical vectors.
import { createHash } from "node:crypto";
import type { Encoder } from "../encode/encoder.ts";
import { DEFAULT_NLLB_LANG } from "../text/nllb-input.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import { type LanguageDetector, loadLanguageDetector, UNDETERMINED } from "../text/langid.ts";
import { deleteDocument as bm25Delete, type Bm25Index } from "./bm25.ts";
import { addDocumentsAsync as bm25AddAsync, saveCollectionBm25 } from "./bm25-sync.ts";
import { type Chunk, chunkDocumentsAsync, type TokenCounter } from "./chunker.ts";
import { type Collection, liveHashes } from "./collection.ts";
import { normalizeRows } from "./exact-search.ts";
import type { InputDoc } from "./ingest.ts";
import type { AnnType, ChunkRow, DocRow } from "./store.ts";
import { buildTokenIndex, compactTokenSegments, writeTokenSegment } from "./token-vectors.ts";

export interface AddOptions {
  /** Language of documents that give none: a code, or "auto" to detect it (the default). */
  lang?: string;
  /** Documents per commit (default 256): what a crash can lose at most. */
  batchSize?: number;
  /** Build the ANN index at the end whatever the size ("auto": from the manifest's threshold up). */
  ann?: boolean | "auto";
  annType?: AnnType;
  onProgress?: (p: AddProgress) => void;
  /** A detector to reuse (default: ELD, loaded when the first document needs it). */
  detector?: LanguageDetector;
  /** Save BM25 on the way at most this often (default 300 s), so a crash costs a shorter rebuild. */
  bm25SaveSeconds?: number;
  /**
   * An id read twice in one run: keep the "last" (the default, as a later upsert would), keep the
   * "first", or stop with an "error" (batches before it stay committed). Either way it is counted.
   */
  onDuplicate?: DuplicatePolicy;
  /**
   * Share the work with other writers adding the same input to this collection at the same time
   * (`xlir index --parallel` on several machines; a store that supports claims: PostgreSQL). Each
   * batch is claimed by one writer, so every document is embedded once; batches come out the same
   * in every writer when they read the same input with the same batch size. The writers hold no
   * collection lock, keep no BM25 of their own (each rebuilds and saves it when it finishes) and
   * build no ANN index (build it with --build-ann once all are done).
   */
  shared?: boolean;
}

export type DuplicatePolicy = "last" | "first" | "error";
export const DUPLICATE_POLICIES: readonly DuplicatePolicy[] = ["last", "first", "error"];

/** An id read again in the same run: where, and where it was first read. */
export interface Duplicate {
  id: string;
  source: string;
  first: string;
}

export interface AddProgress {
  /** Input documents read so far. */
  read: number;
  added: number;
  updated: number;
  unchanged: number;
  chunks: number;
  /** Batches committed in this run. */
  batches: number;
  /** Documents whose id was already read in this run: read = added + updated + unchanged + duplicates. */
  duplicates: number;
  /** The first few of them (at most 5). */
  duplicateExamples: Duplicate[];
  /** Shared indexing: documents in batches another writer claimed. */
  elsewhere: number;
}

/** Sorted-key JSON, so equal metadata hashes equally. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** The content hash that decides whether a re-added document changed. */
export function contentHash(d: {
  text: string;
  title?: string | null;
  lang: string;
  metadata?: unknown;
}): string {
  return createHash("sha256")
    .update(stableJson([d.text, d.title ?? null, d.lang, d.metadata ?? {}]))
    .digest("hex")
    .slice(0, 32);
}

/** One token counter over the encoder's tokenizer (role passage: what chunks are encoded as). */
export function encoderCounter(enc: Encoder): TokenCounter {
  return {
    count: (texts) => enc.tokenize(texts, { role: "passage", truncate: false }).map((r) => r.length),
  };
}

interface Prepared {
  row: DocRow;
  chunks: Chunk[];
  update: boolean;
  oldChunks: number;
  /** Already counted (a duplicate id): not added or updated again. */
  counted: boolean;
}

/** Adds (or updates) documents; returns the final counts. The collection must be open for writing. */
export async function addDocuments(
  col: Collection,
  docs: AsyncIterable<InputDoc> | Iterable<InputDoc>,
  opts: AddOptions = {},
): Promise<AddProgress> {
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`--batch-size must be a positive integer, got ${batchSize}`);
  const defaultLang =
    opts.lang === undefined || opts.lang === "auto" ? "auto" : checkLang(opts.lang, "--lang");
  const enc = col.dense ? await col.encoder() : null;
  const colbert = col.multiVector ? await col.colbert() : null;
  const store = col.store;
  const shared = opts.shared === true;
  if (shared && !store.claim)
    throw new Error(
      `--parallel shares batches between writers through the store: collection "${col.name}" is in the ${store.kind} store; give --store postgres://...`,
    );
  const unlock = shared ? await notLocked(col) : await col.lock();
  const onDuplicate = opts.onDuplicate ?? "last";
  if (!DUPLICATE_POLICIES.includes(onDuplicate))
    throw new Error(`--on-duplicate ${onDuplicate}: choose ${DUPLICATE_POLICIES.join(", ")}`);
  const p: AddProgress = {
    read: 0,
    added: 0,
    updated: 0,
    unchanged: 0,
    chunks: 0,
    batches: 0,
    duplicates: 0,
    duplicateExamples: [],
    elsewhere: 0,
  };
  // every id read in this run, with where it was first read (ids only: small next to the texts),
  // and the documents that repeat one (kept when the last wins; counted as duplicates)
  const seen = new Map<string, string>();
  const repeats = new WeakSet<InputDoc>();
  /** False when the document is to be dropped (the first one wins). */
  const firstOrKept = (d: InputDoc): boolean => {
    const first = seen.get(d.id);
    if (first === undefined) {
      seen.set(d.id, d.source);
      return true;
    }
    if (onDuplicate === "error")
      throw new Error(
        `${d.source}: document id "${d.id}" was already read at ${first}: make ids unique, or pass --on-duplicate last|first`,
      );
    p.duplicates++;
    if (p.duplicateExamples.length < 5) p.duplicateExamples.push({ id: d.id, source: d.source, first });
    if (onDuplicate === "first") return false;
    repeats.add(d);
    return true;
  };
  let detector = opts.detector ?? null;
  let bm25: Bm25Index | null = null;
  let lastSave = Date.now();
  let dirty = false;
  // chunks of earlier runs deleted or replaced: multi-vector collections check for dead vectors
  let replaced = false;
  try {
    const existing = await committedDocs(col);
    if (!shared) {
      bm25 = await col.bm25();
      // not while other writers may have a batch half-committed: their chunks would look orphaned
      replaced = await sweepOrphans(col, existing, bm25);
    }

    const commit = async (batch: InputDoc[]) => {
      const claim = shared ? await store.claim!(batchKey(batch)) : null;
      if (shared && claim === null) {
        p.elsewhere += batch.length;
        return;
      }
      try {
        await commitBatch(batch);
        await claim?.done();
      } finally {
        await claim?.release();
      }
    };

    const commitBatch = async (batch: InputDoc[]) => {
      const prepared: Prepared[] = [];
      const inBatch = new Map<string, number>();
      for (const d of batch) {
        const repeat = repeats.has(d);
        let lang =
          d.lang !== undefined ? checkLang(d.lang, `${d.source}: "lang" of document "${d.id}"`) : defaultLang;
        if (lang === "auto") lang = (detector ??= await loadLanguageDetector())(d.text);
        const metadata = d.metadata ?? {};
        const hash = contentHash({ text: d.text, title: d.title, lang, metadata });
        const old = existing.get(d.id);
        if (old?.hash === hash) {
          if (!repeat) p.unchanged++;
          continue;
        }
        const row: DocRow = {
          id: d.id,
          hash,
          title: d.title ?? null,
          lang,
          metadata: JSON.stringify(metadata),
          text: d.text,
          chunks: 0,
        };
        // the same id twice in one batch: the later one wins, as it would across batches
        const prev = inBatch.get(d.id);
        // a repeat (last wins) rewrites the document but was counted as a duplicate, not again here
        const item = {
          row,
          chunks: [],
          update: old !== undefined,
          oldChunks: old?.chunks ?? 0,
          counted: repeat,
        };
        if (prev !== undefined) prepared[prev] = { ...item, counted: prepared[prev].counted };
        else inBatch.set(d.id, prepared.push(item) - 1);
      }
      if (prepared.length === 0) return;

      const counter = enc ? encoderCounter(enc) : colbert && { count: colbert.countTokens.bind(colbert) };
      if (counter) {
        // async: a long document must not block Ctrl-C and progress
        const chunks = await chunkDocumentsAsync(
          prepared.map((x) => ({ text: x.row.text, title: x.row.title ?? undefined })),
          counter,
          col.manifest.chunking!,
        );
        prepared.forEach((x, i) => (x.chunks = chunks[i]));
      } else {
        for (const x of prepared) {
          const prefix = x.row.title ? `${x.row.title}\n` : "";
          x.chunks = [{ start: 0, end: x.row.text.length, text: x.row.text, prefix }];
        }
      }
      const rows: ChunkRow[] = prepared.flatMap((x) => {
        x.row.chunks = x.chunks.length;
        return x.chunks.map((c, n) => ({
          id: `${x.row.id}#${n}`,
          docId: x.row.id,
          docHash: x.row.hash,
          chunk: n,
          start: c.start,
          end: c.end,
          lang: x.row.lang,
          prefix: c.prefix,
          text: c.text,
        }));
      });
      let vectors: Float32Array | null = null;
      if (enc !== null) {
        const emb = await enc.embed(
          rows.map((r) => r.prefix + r.text),
          { role: "passage", lang: rows.map((r) => (r.lang === UNDETERMINED ? DEFAULT_NLLB_LANG : r.lang)) },
        );
        vectors = col.cosine ? normalizeRows(emb.data, emb.dims[1]) : emb.data;
      }
      if (colbert !== null) {
        // token vectors go to a segment of their own, before the rows that make them live
        const tokens = await colbert.encodeDocuments(
          rows.map((r) => r.prefix + r.text),
          { lang: rows.map((r) => (r.lang === UNDETERMINED ? undefined : r.lang)) as string[] },
        );
        await writeTokenSegment(
          store,
          rows.map((r, i) => ({ id: r.id, docHash: r.docHash, vectors: tokens[i] })),
        );
      }

      // commit: chunks first, the document rows last (see the top of this file)
      const updated = prepared.filter((x) => x.update).map((x) => x.row.id);
      if (updated.length) {
        await store.deleteChunksOfDocs(updated);
        replaced = true;
      }
      await store.addChunks(rows, vectors);
      await store.upsertDocs(prepared.map((x) => x.row));
      dirty = true;
      for (const x of prepared) {
        if (bm25) for (let n = 0; n < x.oldChunks; n++) bm25Delete(bm25, `${x.row.id}#${n}`);
        existing.set(x.row.id, { hash: x.row.hash, chunks: x.row.chunks });
        if (x.counted) continue;
        if (x.update) p.updated++;
        else p.added++;
      }
      if (bm25)
        await bm25AddAsync(
          bm25,
          rows.map((r) => ({ id: r.id, text: r.prefix + r.text, lang: r.lang })),
        );
      p.chunks += rows.length;
      p.batches++;
      if (bm25 && Date.now() - lastSave > (opts.bm25SaveSeconds ?? 300) * 1000) {
        await saveCollectionBm25(bm25, store);
        lastSave = Date.now();
      }
    };

    let batch: InputDoc[] = [];
    try {
      for await (const d of docs) {
        p.read++;
        if (!firstOrKept(d)) continue;
        batch.push(d);
        if (batch.length >= batchSize) {
          await commit(batch);
          batch = [];
          opts.onProgress?.({ ...p });
        }
      }
    } catch (e) {
      // a bad input line: keep everything before it
      if (batch.length) await commit(batch);
      throw e;
    }
    if (batch.length) await commit(batch);
    opts.onProgress?.({ ...p });
  } finally {
    try {
      if (dirty && bm25) await finish(col, bm25, opts, replaced);
      else if (dirty) await finishShared(col);
    } finally {
      col.invalidate();
      await unlock();
    }
  }
  return p;
}

/** A shared writer's end: BM25 rebuilt from every writer's chunks and saved (when no one holds the lock). */
async function finishShared(col: Collection): Promise<void> {
  col.setBm25(null);
  col.invalidate();
  await col.bm25();
}

/** Shared writers hold no lock, but do not start while a writer holds the collection alone. */
async function notLocked(col: Collection): Promise<() => Promise<void>> {
  const unlock = await col.store.tryLock();
  if (unlock === null)
    throw new Error(
      `collection "${col.name}" is being written by a writer without --parallel: wait for it to finish, or stop it`,
    );
  await unlock();
  return async () => {};
}

/** A batch's claim key: the same documents read by every shared writer give the same key. */
function batchKey(batch: readonly InputDoc[]): string {
  const h = createHash("sha256");
  for (const d of batch)
    h.update(JSON.stringify([d.id, d.text, d.title ?? null, d.lang ?? null, d.metadata ?? {}])).update("\n");
  return h.digest("hex");
}

/** Compaction, the ANN index when due, and BM25 saved with the final chunks version. */
async function finish(col: Collection, bm25: Bm25Index, opts: AddOptions, replaced: boolean): Promise<void> {
  const store = col.store;
  await store.optimize();
  const m = col.manifest;
  await compactTokens(col, replaced);
  if (m.encoder.kind !== "bm25") {
    const rows = await store.countChunks();
    const due = opts.ann === true || ((opts.ann ?? "auto") === "auto" && rows >= m.ann.threshold && rows > 0);
    if (due) await buildAnnIndex(col, opts.annType ?? defaultAnnType(col), rows);
  }
  await saveCollectionBm25(bm25, store);
  col.setBm25(bm25);
}

/**
 * The index a collection builds unless told: PLAID for multi-vector collections; HNSW-SQ for cosine
 * collections in the embedded store (bench:search, 1M clustered vectors: recall@10 0.995 at 10x the
 * QPS of exact search, where IVF-PQ kept 0.977 at 5.6x; it takes ~5x longer to build); else the
 * store's first.
 */
export function defaultAnnType(col: Collection): AnnType {
  if (col.multiVector) return "plaid";
  return col.cosine && col.store.annTypes.includes("hnsw_sq") ? "hnsw_sq" : col.store.annTypes[0];
}

/** Builds the ANN index now and records it in the manifest (the caller holds the lock). */
export async function buildAnnIndex(col: Collection, type: AnnType, rows: number): Promise<void> {
  const enc = col.manifest.encoder;
  if (enc.kind === "bm25") throw new Error(`collection "${col.name}" has no vectors to index (bm25)`);
  if (enc.kind === "multi-vector" || type === "plaid") {
    if (enc.kind !== "multi-vector" || type !== "plaid")
      throw new Error(
        `--build-ann ${type}: collection "${col.name}" builds ${enc.kind === "multi-vector" ? "plaid" : col.store.annTypes.join(" or ")}`,
      );
    col.invalidate();
    const v = await col.view(false);
    await buildTokenIndex(col.store, v.chunkIds, liveHashes(v), enc.dims);
  } else await buildVectorIndex(col, type, rows);
  col.manifest = {
    ...col.manifest,
    ann: { ...col.manifest.ann, index: { type, rows, built: new Date().toISOString() } },
  };
  col.invalidate();
  await col.saveManifest();
}

async function buildVectorIndex(col: Collection, type: AnnType, rows: number): Promise<void> {
  if (!col.store.annTypes.includes(type))
    throw new Error(
      `--build-ann ${type}: collection "${col.name}" (${col.store.kind} store) builds ${col.store.annTypes.join(" or ")}`,
    );
  if (type === "hnsw_sq" && !col.cosine) {
    throw new Error(`an HNSW-SQ index needs cosine vectors; "${col.name}" scores by dot product: use ivf_pq`);
  }
  if (type === "ivf_pq" && rows < 256) {
    throw new Error(
      `an IVF-PQ index needs at least 256 chunks to train on; "${col.name}" has ${rows} (exact search is fast at this size)`,
    );
  }
  await col.store.createVectorIndex(type, rows);
}

/** Deletes documents by id; returns the ids that were not in the collection. */
export async function deleteDocuments(col: Collection, ids: readonly string[]): Promise<string[]> {
  const unlock = await col.lock();
  try {
    const existing = await committedDocs(col);
    const found = ids.filter((id) => existing.has(id));
    const missing = ids.filter((id) => !existing.has(id));
    if (found.length === 0) return missing;
    const bm25 = await col.bm25();
    // rows first: once a document's row is gone its chunks are orphans, invisible to search
    await col.store.deleteDocs(found);
    await col.store.deleteChunksOfDocs(found);
    for (const id of found) for (let n = 0; n < existing.get(id)!.chunks; n++) bm25Delete(bm25, `${id}#${n}`);
    await saveCollectionBm25(bm25, col.store);
    await compactTokens(col, true);
    return missing;
  } finally {
    col.invalidate();
    await unlock();
  }
}

function committedDocs(col: Collection): Promise<Map<string, { hash: string; chunks: number }>> {
  return col.store.committedDocs();
}

/** Removes chunks of no live document (a crash between a batch's two writes leaves some). */
async function sweepOrphans(
  col: Collection,
  existing: Map<string, { hash: string }>,
  bm25: Bm25Index,
): Promise<boolean> {
  const chunks = await col.store.readChunks(false);
  const orphans = chunks.ids.filter((_, c) => existing.get(chunks.docIds[c])?.hash !== chunks.docHashes[c]);
  if (orphans.length === 0) return false;
  await col.store.deleteChunks(orphans);
  for (const id of orphans) bm25Delete(bm25, id);
  return true;
}

/** Multi-vector collections: their token segments compacted when dead vectors may outweigh live ones. */
async function compactTokens(col: Collection, replaced: boolean): Promise<void> {
  const enc = col.manifest.encoder;
  if (enc.kind !== "multi-vector") return;
  col.invalidate();
  const v = await col.view(false);
  await compactTokenSegments(col.store, v.chunkIds, liveHashes(v), enc.dims, replaced);
}

function checkLang(code: string, what: string): string {
  if (code.toLowerCase() === UNDETERMINED) return UNDETERMINED;
  try {
    return resolveNllbLang(code);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

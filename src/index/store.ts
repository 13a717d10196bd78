// Where a collection's rows live: its documents, their chunks and the chunks' vectors. Two
// implementations: LanceStore (lance-store.ts, embedded files under the collection's folder, the
// default) and PgStore (pg-store.ts, PostgreSQL + pgvector, for collections that outgrow one
// machine). The indexer, search, the server and eval see only this interface.
//
// A chunk belongs to a live document only while its docHash equals the document's hash: chunks
// written for a document whose own row never got committed, or left from its previous content, are
// ignored by readers and swept by the next writer (indexer.ts), whatever the store.
import type { DocScore } from "./doc-score.ts";
import type { Filter } from "./filter.ts";

export interface DocRow {
  id: string;
  hash: string;
  title: string | null;
  lang: string;
  /** JSON text of the metadata object. */
  metadata: string;
  text: string;
  chunks: number;
}

export interface ChunkRow {
  id: string;
  docId: string;
  docHash: string;
  chunk: number;
  start: number;
  end: number;
  lang: string;
  prefix: string;
  text: string;
}

/** What search keeps in memory about every document. */
export interface DocColumns {
  ids: string[];
  hashes: string[];
  langs: string[];
  titles: (string | null)[];
  metadata: string[];
}

export interface ChunkColumns {
  ids: string[];
  docIds: string[];
  docHashes: string[];
  /** [rows, dims] row-major, or null when not asked for / not a dense collection. */
  vectors: Float32Array | null;
}

export interface AnnHit {
  id: string;
  score: number;
}

/**
 * LanceDB's IVF-PQ and HNSW-SQ; pgvector's HNSW, and HNSW over binary-quantised vectors (hnsw_bq:
 * candidates by Hamming distance, re-ranked by the full vectors). "plaid" is a multi-vector collection's index
 * (token-vectors.ts), kept in blobs by xlir itself, in either store.
 */
export type AnnType = "ivf_pq" | "hnsw_sq" | "hnsw" | "hnsw_bq" | "plaid";

export interface AnnOptions {
  type: AnnType;
  /** Only the language conditions are applied by the store (the rest is checked after the search). */
  filter?: Filter;
  /** IVF-PQ: partitions probed; IVF-PQ and HNSW-BQ: candidates re-ranked exactly (x k). */
  nprobes?: number;
  refineFactor?: number;
  /** HNSW: candidate list size. */
  ef?: number;
}

export interface ExactOptions {
  /** Documents wanted: enough chunks come back to rank the best `docs` by `docScore`. */
  docs: number;
  docScore: DocScore;
  /** Applied whole: only chunks of documents passing it come back. */
  filter?: Filter;
}

/**
 * What else a collection keeps beside its rows: small named values (collection.json, bm25.xlir,
 * state.json, agg-vocab/<lang>.json), each replaced whole and atomically, and the writer lock.
 */
export interface StoreFiles {
  readBlob(name: string): Promise<Buffer | null>;
  writeBlob(name: string, data: Uint8Array): Promise<void>;
  /** Names starting with `prefix`, sorted. */
  listBlobs(prefix: string): Promise<string[]>;
  /** Removes blobs (names that are not there are ignored). */
  deleteBlobs(names: readonly string[]): Promise<void>;
  /** The writer lock (one writer at a time); a one-line error names the holder when it is taken. */
  lock(): Promise<() => Promise<void>>;
  /** The writer lock if it is free, else null (this process's own writer counts as holding it). */
  tryLock(): Promise<(() => Promise<void>) | null>;
  /**
   * Several writers at once (PostgreSQL only): claims unit of work `key` (a batch of documents) for
   * this writer. Null when another writer holds it or has done it; else done() marks it done for
   * good and release() lets it go (a writer that dies releases it with its connection).
   */
  claim?(key: string): Promise<Claim | null>;
}

export interface Claim {
  done(): Promise<void>;
  release(): Promise<void>;
}

export interface Store extends StoreFiles {
  /** "lance" or "postgres": what `xlir collections info` shows. */
  readonly kind: string;
  readonly dims: number | null;
  /** Throws a one-line error naming what is damaged or unreachable. */
  verify(): Promise<void>;
  close(): Promise<void>;
  /** Bytes the collection takes (files, or tables and indexes). */
  sizeBytes(): Promise<number>;
  countDocs(): Promise<number>;
  countChunks(): Promise<number>;
  /** Changes with every commit to the chunks (BM25's saved state says which version it covers). */
  chunksVersion(): Promise<number>;
  /** id -> content hash and chunk count of every committed document. */
  committedDocs(): Promise<Map<string, { hash: string; chunks: number }>>;
  readDocs(): Promise<DocColumns>;
  readChunks(withVectors: boolean): Promise<ChunkColumns>;
  /** Every chunk's indexed text (prefix + text) and language, for rebuilding BM25. */
  readChunkTexts(): Promise<{ ids: string[]; texts: string[]; langs: string[] }>;
  /** Every document's language, title and text, batch by batch (token sets are built from them). */
  scanDocTexts(
    each: (batch: { langs: string[]; titles: (string | null)[]; texts: string[] }) => void,
  ): Promise<void>;
  fetchChunkRows(ids: readonly string[]): Promise<ChunkRow[]>;
  fetchChunks(ids: readonly string[]): Promise<Map<string, { text: string; start: number; end: number }>>;
  fetchDocs(ids: readonly string[]): Promise<Map<string, DocRow>>;
  /** Appends chunks (with their vectors, [rows, dims], in dense collections): one commit. */
  addChunks(rows: readonly ChunkRow[], vectors: Float32Array | null): Promise<void>;
  /** Rewrites chunks that exist (same ids) with new vectors. */
  replaceChunks(rows: readonly ChunkRow[], vectors: Float32Array): Promise<void>;
  /** Inserts or replaces documents by id: one commit. */
  upsertDocs(rows: readonly DocRow[]): Promise<void>;
  deleteDocs(ids: readonly string[]): Promise<void>;
  deleteChunksOfDocs(docIds: readonly string[]): Promise<void>;
  deleteChunks(ids: readonly string[]): Promise<void>;
  /** Compaction and index upkeep after a run of writes. */
  optimize(): Promise<void>;
  hasVectorIndex(): Promise<boolean>;
  /** The ANN types this store builds (the first is its default). */
  readonly annTypes: readonly AnnType[];
  createVectorIndex(type: AnnType, rows: number): Promise<void>;
  /** Candidate chunks through the vector index, scored by the exact dot product of their vectors. */
  annSearch(query: Float32Array, k: number, opts: AnnOptions): Promise<AnnHit[]>;
  /**
   * Exact dense search run by the store where the vectors are (PostgreSQL): the chunks that rank
   * the best documents, scored by the exact dot product (as dotAll), best first. Absent (the
   * embedded store): the caller reads every vector and scores them itself.
   */
  exactSearch?(query: Float32Array, opts: ExactOptions): Promise<AnnHit[]>;
}

// The embedded store (store.ts): the collection's tables in LanceDB (files in DIR/lance, no
// server), its other values as files in DIR, its writer lock a pid file (lock.ts):
//   documents  id, hash, title, lang, metadata (JSON text), text, chunks (count)
//   chunks     id ("<doc id>#<n>"), doc_id, doc_hash, chunk (n), span_start, span_end, lang, prefix,
//              text, and vector (FixedSizeList<float32>[dims]) in dense collections
// Each LanceDB write is one atomic commit (a new table version), so a crash leaves every table at
// its last commit. A chunk belongs to a live document only while its doc_hash equals the
// document's hash: chunks written for a document whose own row never got committed (a crash
// between the two writes), or left from its previous content, are ignored by readers and swept
// by the next writer.
import * as lancedb from "@lancedb/lancedb";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { dotAll } from "./exact-search.ts";
import type { Filter } from "./filter.ts";
import { readFolderFile, listFolderFiles, writeFolderFile } from "./folder-files.ts";
import { lockCollection, tryLockCollection } from "./lock.ts";
import type {
  AnnHit,
  AnnOptions,
  AnnType,
  ChunkColumns,
  ChunkRow,
  DocColumns,
  DocRow,
  Store,
} from "./store.ts";
import { damagedManifest, firstDamagedFile } from "./lance-files.ts";
import {
  type ArrowTable,
  type Column,
  type Schema,
  arrow,
  field,
  int32sOf,
  stored,
  stringsOf,
  tableOf,
  vectorType,
  vectorsOf,
} from "./arrow.ts";

const utf8 = () => new arrow.Utf8();
const int32 = () => new arrow.Int32();

function docsSchema(): Schema {
  return new arrow.Schema([
    field("id", utf8()),
    field("hash", utf8()),
    field("title", utf8(), true),
    field("lang", utf8()),
    field("metadata", utf8()),
    field("text", utf8()),
    field("chunks", int32()),
  ]);
}

function chunksSchema(dims: number | null): Schema {
  const fields = [
    field("id", utf8()),
    field("doc_id", utf8()),
    field("doc_hash", utf8()),
    field("chunk", int32()),
    field("span_start", int32()),
    field("span_end", int32()),
    field("lang", utf8()),
    field("prefix", utf8()),
    field("text", utf8()),
  ];
  if (dims !== null) fields.push(field("vector", vectorType(dims)));
  return new arrow.Schema(fields);
}

/** A SQL string literal for LanceDB filters. */
export function sqlString(s: string): string {
  return `'${stored(s).replace(/'/g, "''")}'`;
}

/** The LanceDB SQL for the filter's language conditions (the rest is checked after the search). */
export function langWhere(filter: Filter): string | undefined {
  const parts = filter
    .filter((c) => c.field === "lang")
    .map((c) => `lang ${c.negate ? "NOT IN" : "IN"} (${c.values.map(sqlString).join(", ")})`);
  return parts.length ? parts.join(" AND ") : undefined;
}

/** `column IN (...)` predicates over `values`, a few hundred at a time. */
function inLists(column: string, values: readonly string[], per = 500): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length; i += per) {
    out.push(
      `${column} IN (${values
        .slice(i, i + per)
        .map(sqlString)
        .join(", ")})`,
    );
  }
  return out;
}

export type TableName = "documents" | "chunks";

/** The folder of one of a collection's tables. */
export function tableDir(dir: string, table: TableName): string {
  return join(dir, "lance", `${table}.lance`);
}

/**
 * The one-line error for a table LanceDB cannot read: it names the damaged file when the table's
 * manifest shows one (LanceDB's own message for a cut-off file names none) and the repair command.
 * Errors that are not about the files (a bad filter, say) come back unchanged.
 */
export function damagedTableError(dir: string, table: TableName, version: number | null, e: unknown): Error {
  const raw = e instanceof Error ? e.message : String(e);
  let what =
    version === null
      ? damagedManifest(tableDir(dir, table))
      : firstDamagedFile(tableDir(dir, table), version);
  if (what === null) {
    const missing = /Not found: (\S+?\.(lance|manifest|arrow|bin))\b/.exec(raw);
    if (missing) what = `/${missing[1].replace(/^\/+/, "")} is missing`;
    else if (/Not found|No such file|LanceError\(IO\)|LocalFileSystem|failed to fill whole buffer/i.test(raw))
      what = `${tableDir(dir, table)}: ${shortLanceMessage(raw)}`;
    else return e instanceof Error ? e : new Error(raw);
  }
  const name = basename(dir);
  return new Error(
    `collection "${name}" is damaged: its ${table} table cannot be read (${what}); ` +
      `run xlir collections check ${name} --repair`,
    { cause: e },
  );
}

// LanceDB's messages carry Rust source locations and "Caused by" chains; the first clause says it.
function shortLanceMessage(raw: string): string {
  return raw.split(/, \/|\n| {2}Caused by/)[0].trim();
}

/**
 * The LanceDB index xlir builds on `rows` vectors of `dims` (unit length for HNSW-SQ, which is built
 * for cosine: LanceDB 0.30's HNSW-SQ under "dot" returns unrelated rows). IVF-PQ follows LanceDB's
 * guidance, about sqrt(rows) partitions and sub-vectors of 8 dimensions; bench/search.bench.ts
 * measures it on clustered vectors (a mixture of Gaussians: what embeddings look like, unlike
 * uniform random vectors, on which no partitioning helps), where with ANN_DEFAULTS it keeps
 * recall@10 >= 0.95.
 */
export function vectorIndexConfig(type: "ivf_pq" | "hnsw_sq", rows: number, dims: number): lancedb.Index {
  if (type === "ivf_pq") {
    const numPartitions = Math.max(1, Math.round(Math.sqrt(rows)));
    const numSubVectors = [dims / 8, dims / 16, dims / 4, dims / 2, 1].find((s) => Number.isInteger(s))!;
    // k-means of 20 iterations over 64 sample rows a partition (LanceDB: 50 over 256): a 1M x 384
    // build is ~10x less work, and the refine step re-scores what coarser centroids misplace
    return lancedb.Index.ivfPq({
      distanceType: "dot",
      numPartitions,
      numSubVectors,
      maxIterations: 20,
      sampleRate: 64,
    });
  }
  return lancedb.Index.hnswSq({
    distanceType: "cosine",
    numPartitions: Math.max(1, Math.round(rows / 100_000)),
  });
}

/**
 * Search-time defaults of the ANN indexes, chosen by bench/search.bench.ts on 1M clustered vectors
 * (2000 centres, sqrt(rows) = 1000 partitions, 40 rows asked for as search.ts does): IVF-PQ probes
 * `nprobes` partitions and re-scores `refineFactor` x the rows asked for by their full vectors.
 * Neighbours spread over more partitions than LanceDB's usual 20 reach: recall@10 was 0.943 at 20
 * probes, 0.956 at 30, 0.977 at 50, 0.979 at 100. PQ codes alone rank neighbours poorly (0.32 with
 * no refine, 0.76 at refine 5), so refine stays 10, which with LanceDB's fixed cost (~9 ms a query
 * with no refine on 2 cores) holds IVF-PQ to ~15 ms, 5.6x exact search's QPS (84 ms a query).
 * HNSW-SQ keeps `ef` candidates (at least the rows asked for): recall 1.000 at ef 100 (11.7 ms,
 * 7.2x) and 0.995 at ef 50 (8.1 ms, 10.3x), the default (at least the rows asked for).
 */
export const ANN_DEFAULTS = Object.freeze({ nprobes: 50, refineFactor: 10, ef: 50 });

/** A vector query of `k` rows through the table's index, with `opts` over ANN_DEFAULTS. */
export function annQuery(
  table: lancedb.Table,
  query: Float32Array,
  k: number,
  opts: Pick<AnnOptions, "type" | "nprobes" | "refineFactor" | "ef">,
): lancedb.VectorQuery {
  const q = table
    .vectorSearch(query)
    .distanceType(opts.type === "hnsw_sq" ? "cosine" : "dot")
    .limit(k);
  if (opts.type === "hnsw_sq") return q.ef(Math.max(k, opts.ef ?? ANN_DEFAULTS.ef));
  return q
    .nprobes(opts.nprobes ?? ANN_DEFAULTS.nprobes)
    .refineFactor(opts.refineFactor ?? ANN_DEFAULTS.refineFactor);
}

export class LanceStore implements Store {
  readonly kind = "lance";
  readonly annTypes: readonly AnnType[] = ["ivf_pq", "hnsw_sq"];

  private constructor(
    readonly dir: string,
    private readonly db: lancedb.Connection,
    readonly docs: lancedb.Table,
    readonly chunks: lancedb.Table,
    readonly dims: number | null,
  ) {}

  /** Opens DIR/lance, creating the tables when `create` (dims: vector size, or null for BM25-only). */
  static async open(dir: string, dims: number | null, create = false): Promise<LanceStore> {
    const lost = (what: string) =>
      new Error(
        `collection "${basename(dir)}" is damaged: ${what} is missing; re-index it from the source ` +
          `with xlir index (or delete it with xlir collections delete ${basename(dir)})`,
      );
    // connecting would create the folder
    if (!create && !existsSync(join(dir, "lance"))) throw lost(join(dir, "lance"));
    const db = await lancedb.connect(join(dir, "lance"));
    const names = await db.tableNames();
    const table = async (name: TableName, schema: Schema) => {
      if (names.includes(name)) {
        try {
          return await db.openTable(name);
        } catch (e) {
          throw damagedTableError(dir, name, null, e);
        }
      }
      if (!create) throw lost(tableDir(dir, name));
      return db.createEmptyTable(name, schema, { mode: "create", existOk: true });
    };
    const docs = await table("documents", docsSchema());
    const chunks = await table("chunks", chunksSchema(dims));
    return new LanceStore(dir, db, docs, chunks, dims);
  }

  /** Runs a LanceDB call on `table`, turning a damaged file into a one-line error that names it. */
  private async guard<T>(table: TableName, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      const t = table === "documents" ? this.docs : this.chunks;
      const version = await t.version().catch(() => null);
      throw damagedTableError(this.dir, table, version, e);
    }
  }

  /** Throws the damaged-table error when a file the tables' current versions need is missing or cut off. */
  async verify(): Promise<void> {
    for (const [name, t] of [
      ["documents", this.docs],
      ["chunks", this.chunks],
    ] as const) {
      const version = await this.guard(name, () => t.version());
      const bad = firstDamagedFile(tableDir(this.dir, name), version);
      if (bad !== null) throw damagedTableError(this.dir, name, version, new Error(bad));
    }
  }

  async close(): Promise<void> {
    this.docs.close();
    this.chunks.close();
    this.db.close();
  }

  // the collection's other values are files beside the tables, replaced atomically
  async readBlob(name: string): Promise<Buffer | null> {
    return readFolderFile(this.dir, name);
  }

  async writeBlob(name: string, data: Uint8Array): Promise<void> {
    writeFolderFile(this.dir, name, data);
  }

  async listBlobs(prefix: string): Promise<string[]> {
    return listFolderFiles(this.dir, prefix);
  }

  async deleteBlobs(names: readonly string[]): Promise<void> {
    for (const n of names) rmSync(join(this.dir, n), { force: true });
  }

  async lock(): Promise<() => Promise<void>> {
    const unlock = lockCollection(this.dir, basename(this.dir));
    return async () => unlock();
  }

  async tryLock(): Promise<(() => Promise<void>) | null> {
    const unlock = tryLockCollection(this.dir, basename(this.dir));
    return unlock && (async () => unlock());
  }

  async scanDocTexts(
    each: (batch: { langs: string[]; titles: (string | null)[]; texts: string[] }) => void,
  ): Promise<void> {
    await this.scan("documents", ["lang", "title", "text"], (t) =>
      each({
        langs: stringsOf(t, "lang") as string[],
        titles: stringsOf(t, "title"),
        texts: (stringsOf(t, "text") as (string | null)[]).map((x) => x ?? ""),
      }),
    );
  }

  async sizeBytes(): Promise<number> {
    return folderBytes(this.dir);
  }

  async countDocs(): Promise<number> {
    return this.guard("documents", () => this.docs.countRows());
  }

  async countChunks(): Promise<number> {
    return this.guard("chunks", () => this.chunks.countRows());
  }

  /** The chunks table's version: it changes with every commit to it. */
  async chunksVersion(): Promise<number> {
    return this.guard("chunks", () => this.chunks.version());
  }

  /** id -> content hash and chunk count of every committed document. */
  async committedDocs(): Promise<Map<string, { hash: string; chunks: number }>> {
    const t = await this.guard("documents", () =>
      this.docs.query().select(["id", "hash", "chunks"]).toArrow(),
    );
    const ids = stringsOf(t, "id") as string[];
    const hashes = stringsOf(t, "hash") as string[];
    const chunks = int32sOf(t, "chunks");
    return new Map(ids.map((id, i) => [id, { hash: hashes[i], chunks: chunks[i] }]));
  }

  async readDocs(): Promise<DocColumns> {
    const t = await this.guard("documents", () =>
      this.docs.query().select(["id", "hash", "lang", "title", "metadata"]).toArrow(),
    );
    return {
      ids: stringsOf(t, "id") as string[],
      hashes: stringsOf(t, "hash") as string[],
      langs: stringsOf(t, "lang") as string[],
      titles: stringsOf(t, "title"),
      metadata: stringsOf(t, "metadata") as string[],
    };
  }

  async readChunks(withVectors: boolean): Promise<ChunkColumns> {
    const cols = ["id", "doc_id", "doc_hash"];
    const vectors = withVectors && this.dims !== null;
    const t = await this.guard("chunks", () =>
      this.chunks
        .query()
        .select(vectors ? [...cols, "vector"] : cols)
        .toArrow(),
    );
    return {
      ids: stringsOf(t, "id") as string[],
      docIds: stringsOf(t, "doc_id") as string[],
      docHashes: stringsOf(t, "doc_hash") as string[],
      vectors: vectors ? vectorsOf(t, "vector", this.dims!) : null,
    };
  }

  /** Every chunk's indexed text (prefix + text) and language, for rebuilding BM25. */
  async readChunkTexts(): Promise<{ ids: string[]; texts: string[]; langs: string[] }> {
    const t = await this.guard("chunks", () =>
      this.chunks.query().select(["id", "prefix", "text", "lang"]).toArrow(),
    );
    const prefixes = stringsOf(t, "prefix");
    return {
      ids: stringsOf(t, "id") as string[],
      texts: (stringsOf(t, "text") as string[]).map((s, i) => (prefixes[i] ?? "") + s),
      langs: stringsOf(t, "lang") as string[],
    };
  }

  /**
   * Reads every row of `table` (all columns, or `columns`) batch by batch, so a damaged file shows
   * whichever column it holds; `each` sees every batch.
   */
  async scan(table: TableName, columns: string[] | null, each: (batch: ArrowTable) => void): Promise<void> {
    const t = table === "documents" ? this.docs : this.chunks;
    await this.guard(table, async () => {
      const q = columns === null ? t.query() : t.query().select(columns);
      for await (const batch of q) each(new arrow.Table(batch as never));
    });
  }

  /** Full rows of the given chunks (without their vectors). */
  async fetchChunkRows(ids: readonly string[]): Promise<ChunkRow[]> {
    const out: ChunkRow[] = [];
    const cols = ["id", "doc_id", "doc_hash", "chunk", "span_start", "span_end", "lang", "prefix", "text"];
    for (const where of inLists("id", ids)) {
      const t = await this.guard("chunks", () => this.chunks.query().where(where).select(cols).toArrow());
      const [id, docId, docHash, lang, prefix, text] = [
        "id",
        "doc_id",
        "doc_hash",
        "lang",
        "prefix",
        "text",
      ].map((c) => stringsOf(t, c));
      const [chunk, start, end] = ["chunk", "span_start", "span_end"].map((c) => int32sOf(t, c));
      id.forEach((x, i) =>
        out.push({
          id: x!,
          docId: docId[i]!,
          docHash: docHash[i]!,
          chunk: chunk[i],
          start: start[i],
          end: end[i],
          lang: lang[i]!,
          prefix: prefix[i]!,
          text: text[i]!,
        }),
      );
    }
    return out;
  }

  /** Rewrites existing chunks with new vectors, in one commit (matched by id). */
  async replaceChunks(rows: readonly ChunkRow[], vectors: Float32Array): Promise<void> {
    if (rows.length === 0) return;
    const t = this.chunksTable(rows, vectors);
    await this.guard("chunks", () => this.chunks.mergeInsert("id").whenMatchedUpdateAll().execute(t));
  }

  /** Text and span of the given chunks. */
  async fetchChunks(
    ids: readonly string[],
  ): Promise<Map<string, { text: string; start: number; end: number }>> {
    const out = new Map<string, { text: string; start: number; end: number }>();
    for (const where of inLists("id", ids)) {
      const t = await this.guard("chunks", () =>
        this.chunks.query().where(where).select(["id", "text", "span_start", "span_end"]).toArrow(),
      );
      const id = stringsOf(t, "id");
      const text = stringsOf(t, "text");
      const start = int32sOf(t, "span_start");
      const end = int32sOf(t, "span_end");
      id.forEach((x, i) => out.set(x!, { text: text[i]!, start: start[i], end: end[i] }));
    }
    return out;
  }

  /** Full rows of the given documents. */
  async fetchDocs(ids: readonly string[]): Promise<Map<string, DocRow>> {
    const out = new Map<string, DocRow>();
    for (const where of inLists("id", ids)) {
      const t = await this.guard("documents", () => this.docs.query().where(where).toArrow());
      const cols = ["id", "hash", "title", "lang", "metadata", "text"].map((c) => stringsOf(t, c));
      const chunks = int32sOf(t, "chunks");
      cols[0].forEach((id, i) =>
        out.set(id!, {
          id: id!,
          hash: cols[1][i]!,
          title: cols[2][i],
          lang: cols[3][i]!,
          metadata: cols[4][i]!,
          text: cols[5][i]!,
          chunks: chunks[i],
        }),
      );
    }
    return out;
  }

  async addChunks(rows: readonly ChunkRow[], vectors: Float32Array | null): Promise<void> {
    if (rows.length === 0) return;
    const t = this.chunksTable(rows, vectors);
    await this.guard("chunks", () => this.chunks.add(t));
  }

  /** Chunk rows (and their vectors, in a dense collection) as an Arrow table of the chunks schema. */
  private chunksTable(rows: readonly ChunkRow[], vectors: Float32Array | null) {
    const columns: Column[] = [
      { strings: rows.map((r) => r.id) },
      { strings: rows.map((r) => r.docId) },
      { strings: rows.map((r) => r.docHash) },
      { int32: Int32Array.from(rows, (r) => r.chunk) },
      { int32: Int32Array.from(rows, (r) => r.start) },
      { int32: Int32Array.from(rows, (r) => r.end) },
      { strings: rows.map((r) => r.lang) },
      { strings: rows.map((r) => r.prefix) },
      { strings: rows.map((r) => r.text) },
    ];
    if (this.dims !== null) {
      if (vectors === null || vectors.length !== rows.length * this.dims) {
        throw new Error(`internal: ${rows.length} chunks need ${rows.length}x${this.dims} vector values`);
      }
      columns.push({ vectors });
    }
    return tableOf(chunksSchema(this.dims), rows.length, columns);
  }

  /** Inserts the documents, replacing rows with the same id (one commit). */
  async upsertDocs(rows: readonly DocRow[]): Promise<void> {
    if (rows.length === 0) return;
    const t = tableOf(docsSchema(), rows.length, [
      { strings: rows.map((r) => r.id) },
      { strings: rows.map((r) => r.hash) },
      { strings: rows.map((r) => r.title) },
      { strings: rows.map((r) => r.lang) },
      { strings: rows.map((r) => r.metadata) },
      { strings: rows.map((r) => r.text) },
      { int32: Int32Array.from(rows, (r) => r.chunks) },
    ]);
    await this.guard("documents", () =>
      this.docs.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(t),
    );
  }

  async deleteDocs(ids: readonly string[]): Promise<void> {
    for (const where of inLists("id", ids)) await this.guard("documents", () => this.docs.delete(where));
  }

  async deleteChunksOfDocs(docIds: readonly string[]): Promise<void> {
    for (const where of inLists("doc_id", docIds))
      await this.guard("chunks", () => this.chunks.delete(where));
  }

  async deleteChunks(ids: readonly string[]): Promise<void> {
    for (const where of inLists("id", ids)) await this.guard("chunks", () => this.chunks.delete(where));
  }

  /** Compacts the many small fragments that batch commits leave, updates indexes, drops old versions. */
  async optimize(): Promise<void> {
    const cleanupOlderThan = new Date();
    await this.guard("documents", () => this.docs.optimize({ cleanupOlderThan }));
    await this.guard("chunks", () => this.chunks.optimize({ cleanupOlderThan }));
  }

  async hasVectorIndex(): Promise<boolean> {
    const indices = await this.guard("chunks", () => this.chunks.listIndices());
    return indices.some((i) => i.columns.includes("vector"));
  }

  /** Builds (or rebuilds) the ANN index on the chunk vectors (see vectorIndexConfig). */
  async createVectorIndex(type: AnnType, rows: number): Promise<void> {
    if (type !== "ivf_pq" && type !== "hnsw_sq")
      throw new Error(`the embedded store builds "ivf_pq" or "hnsw_sq" indexes, not "${type}"`);
    const config = vectorIndexConfig(type, rows, this.dims!);
    await this.guard("chunks", () => this.chunks.createIndex("vector", { config, replace: true }));
  }

  /**
   * Candidate chunks through the vector index (rows added since it was built are scanned exactly by
   * LanceDB), scored here by the exact dot product of their stored vectors: LanceDB's distances
   * differ between index types. `where` is a LanceDB SQL filter applied before the search.
   */
  async annSearch(query: Float32Array, k: number, opts: AnnOptions): Promise<AnnHit[]> {
    const dims = this.dims!;
    let q = annQuery(this.chunks, query, k, opts).select(["id", "vector", "_distance"]);
    const where = opts.filter ? langWhere(opts.filter) : undefined;
    if (where) q = q.where(where);
    const t: ArrowTable = await this.guard("chunks", () => q.toArrow());
    const ids = stringsOf(t, "id") as string[];
    const scores = dotAll(vectorsOf(t, "vector", dims), dims, query);
    return ids.map((id, i) => ({ id, score: scores[i] }));
  }
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    n += st.isDirectory() ? folderBytes(p) : st.size;
  }
  return n;
}

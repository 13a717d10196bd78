// The SQL text of PostgreSQL collections (pg-store.ts runs it): identifiers, the schema's DDL, the
// Citus distribution calls and the settings of an HNSW search. Pure functions of their arguments, so
// the statements can be checked without a server (test/index/pg-store.test.ts).
//
// One PostgreSQL schema per collection, "xlir:<name>", always written as a quoted identifier:
// collection names are case-sensitive (folding them to lower case would merge "Docs" and "docs")
// and may hold "." and "-". PostgreSQL cuts identifiers at 63 bytes, so a longer name becomes its
// first 41 characters, "~" (never in a collection name) and 16 hex digits of its SHA-256; the full
// name is kept in the schema's comment and the meta table, which is where list() reads it.
//
// Tables of a collection (the LanceDB tables of lance-store.ts, plus what is a file there):
//   documents  id, hash, title, lang, metadata_text (the JSON text as given, returned unchanged),
//              metadata (the same as jsonb, for queries on the server), text, chunks
//   chunks     id ("<doc id>#<n>"), doc_id, doc_hash, chunk, span_start, span_end, lang, prefix,
//              text, and vector (pgvector's vector(dims)) in dense collections
//   blobs      name, data: collection.json, bm25.xlir, state.json, agg-vocab/<lang>.json
//   meta       key, value: format_version, chunks_version (a counter bumped by every commit to
//              chunks), dims, name, distributed
// Key columns are COLLATE "C": byte order, the same on every server whatever its locale, so ORDER BY
// id is deterministic and the btree compares bytes (faster than a locale's rules).
//
// The chunks' primary key is (id, doc_id), not (id): Citus requires every unique constraint of a
// distributed table to hold its distribution column (doc_id, see distributedDdl). A chunk's id
// names its document ("<doc id>#<n>"), so the pair is as unique as the id, and the key's leading id
// still serves lookups and ORDER BY id; chunks(doc_id) serves deleting a document's chunks.
import { createHash } from "node:crypto";
import { checkCollectionName } from "./home.ts";

/** The layout version in meta.format_version; open() migrates older ones and refuses newer ones. */
export const FORMAT_VERSION = 1;

/** PostgreSQL's identifier limit (NAMEDATALEN - 1 bytes); longer ones are silently cut. */
const MAX_IDENT = 63;

export function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** A string literal (standard_conforming_strings, on by default since PostgreSQL 9.1). */
export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The PostgreSQL schema of collection `name` (unquoted). */
export function schemaName(name: string): string {
  checkCollectionName(name);
  const full = `xlir:${name}`;
  if (Buffer.byteLength(full) <= MAX_IDENT) return full;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 16);
  return `xlir:${name.slice(0, MAX_IDENT - 5 - 1 - 16)}~${hash}`;
}

/** The advisory lock key's text: hashtextextended() of it on the server gives the 64-bit key. */
export function lockKeyText(name: string): string {
  return `xlir:${name}`;
}

/** Names of a collection's tables, schema-qualified and quoted. */
export function tables(name: string) {
  const s = quoteIdent(schemaName(name));
  return {
    schema: s,
    documents: `${s}.documents`,
    chunks: `${s}.chunks`,
    blobs: `${s}.blobs`,
    meta: `${s}.meta`,
  };
}

/**
 * The statements creating collection `name`'s schema and tables (one transaction). `vx` is the
 * quoted schema of the vector extension: types and operators are qualified with it, so they resolve
 * whatever the session's search_path.
 */
export function createDdl(name: string, dims: number | null, vx: string): string[] {
  const t = tables(name);
  if (dims !== null && !(Number.isInteger(dims) && dims > 0)) throw new Error(`internal: bad dims ${dims}`);
  return [
    `CREATE SCHEMA ${t.schema}`,
    `COMMENT ON SCHEMA ${t.schema} IS ${quoteLiteral(name)}`,
    `CREATE TABLE ${t.documents} (
  id text COLLATE "C" PRIMARY KEY,
  hash text NOT NULL,
  title text,
  lang text COLLATE "C" NOT NULL,
  metadata_text text NOT NULL,
  metadata jsonb,
  text text NOT NULL,
  chunks integer NOT NULL
)`,
    `CREATE INDEX documents_lang ON ${t.documents} (lang)`,
    `CREATE TABLE ${t.chunks} (
  id text COLLATE "C" NOT NULL,
  doc_id text COLLATE "C" NOT NULL,
  doc_hash text NOT NULL,
  chunk integer NOT NULL,
  span_start integer NOT NULL,
  span_end integer NOT NULL,
  lang text COLLATE "C" NOT NULL,
  prefix text NOT NULL,
  text text NOT NULL,${dims === null ? "" : `\n  vector ${vx}.vector(${dims}) NOT NULL,`}
  PRIMARY KEY (id, doc_id)
)`,
    `CREATE INDEX chunks_doc_id ON ${t.chunks} (doc_id)`,
    `CREATE TABLE ${t.blobs} (name text COLLATE "C" PRIMARY KEY, data bytea NOT NULL)`,
    `CREATE TABLE ${t.meta} (key text COLLATE "C" PRIMARY KEY, value text NOT NULL)`,
  ];
}

/**
 * What `--distributed` runs after createDdl when the server has the citus extension (in the same
 * transaction: a failure leaves no half-made collection).
 *
 * Shard key: documents by id, chunks by doc_id. They hold the same values, so with colocate_with
 * a document and its chunks live in the same shard on the same worker: deleting or rewriting a
 * document touches one shard, and a join of the two never crosses workers. Colocation needs the
 * same distribution column type (text, COLLATE "C" on both) and the same shard count, which
 * colocate_with guarantees. blobs and meta are small and read by every query's caller, so they are
 * reference tables: a copy on every worker, written through the coordinator.
 *
 * HNSW per shard: the ordinary CREATE INDEX ... USING hnsw on chunks (createVectorIndex) is
 * propagated by Citus to every shard, so each shard has its own graph over its rows. A search
 * fans out: each shard returns its own top k through its index (Citus pushes ORDER BY ... LIMIT k
 * down), and the coordinator merges them into the global top k. The hnsw.* settings must reach the
 * workers' sessions: see annSettings.
 */
export function distributedDdl(name: string): string[] {
  const t = tables(name);
  return [
    `SELECT create_distributed_table(${quoteLiteral(t.documents)}, 'id')`,
    `SELECT create_distributed_table(${quoteLiteral(t.chunks)}, 'doc_id', colocate_with => ${quoteLiteral(t.documents)})`,
    `SELECT create_reference_table(${quoteLiteral(t.blobs)})`,
    `SELECT create_reference_table(${quoteLiteral(t.meta)})`,
  ];
}

export interface HnswBuild {
  /** Links per node (pgvector's default 16). */
  m: number;
  /** Candidate list while building (pgvector's default 64). */
  efConstruction: number;
}

/** The HNSW index on the chunk vectors, for inner product (`<#>`: the negated dot product). */
export function hnswIndexDdl(name: string, vx: string, opts: HnswBuild): string[] {
  const t = tables(name);
  return [
    `DROP INDEX IF EXISTS ${t.schema}.chunks_vector_hnsw`,
    `CREATE INDEX chunks_vector_hnsw ON ${t.chunks} USING hnsw (vector ${vx}.vector_ip_ops) ` +
      `WITH (m = ${opts.m}, ef_construction = ${opts.efConstruction})`,
  ];
}

/**
 * The SET LOCALs before an HNSW search (inside its transaction, so they end with it and never
 * leak into the pooled session). hnsw.iterative_scan (pgvector 0.8+) keeps scanning the graph
 * until LIMIT rows pass the WHERE, so a filtered search still returns k rows; relaxed_order lets
 * them come slightly out of order, which is fine: the caller re-scores them exactly and sorts.
 * On Citus, SET LOCAL reaches the workers only for its own settings unless
 * citus.propagate_set_commands is 'local', which then sends the SET LOCALs that follow to every
 * worker connection of the transaction.
 */
export function annSettings(ef: number, iterative: boolean, distributed: boolean): string[] {
  if (!Number.isInteger(ef) || ef < 1) throw new Error(`internal: bad ef ${ef}`);
  return [
    ...(distributed ? ["SET LOCAL citus.propagate_set_commands = 'local'"] : []),
    `SET LOCAL hnsw.ef_search = ${ef}`,
    ...(iterative ? ["SET LOCAL hnsw.iterative_scan = relaxed_order"] : []),
  ];
}

/**
 * The ANN query: the k nearest chunks by inner product, through the HNSW index, with the
 * filter's language conditions ($1 is the query vector, $2.. the language lists). The vectors come
 * back in pgvector's binary form (vector_send), so their float32 values arrive bit-exact.
 */
export function annQuery(name: string, vx: string, langConds: { negate: boolean }[], k: number): string {
  const t = tables(name);
  const where = langConds.map((c, i) => `${c.negate ? "NOT " : ""}(lang = ANY($${i + 2}::text[]))`);
  return (
    `SELECT id, ${vx}.vector_send(vector) AS v FROM ${t.chunks}` +
    (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY vector OPERATOR(${vx}.<#>) $1::${vx}.vector LIMIT ${k}`
  );
}

/** The URL as messages show it: without its password, and without the query string (which may carry one). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return "(an unreadable PostgreSQL URL)";
  }
}

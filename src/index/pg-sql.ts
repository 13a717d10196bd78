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
//              text, and vector in dense collections: pgvector's vector(dims) (float32), or
//              halfvec(dims) (float16: half the bytes) when created so
//   blobs      name, data: collection.json, bm25.xlir, state.json, agg-vocab/<lang>.json
//   meta       key, value: format_version, chunks_version (a counter bumped by every commit to
//              chunks), dims, name, distributed, vector_type (vector or halfvec; since format 2)
// Key columns are COLLATE "C": byte order, the same on every server whatever its locale, so ORDER BY
// id is deterministic and the btree compares bytes (faster than a locale's rules).
//
// The chunks' primary key is (id, doc_id), not (id): Citus requires every unique constraint of a
// distributed table to hold its distribution column (doc_id, see distributedDdl). A chunk's id
// names its document ("<doc id>#<n>"), so the pair is as unique as the id, and the key's leading id
// still serves lookups and ORDER BY id; chunks(doc_id) serves deleting a document's chunks.
import { createHash } from "node:crypto";
import { checkCollectionName } from "./home.ts";

/**
 * The layout version in meta.format_version; open() migrates older ones and refuses newer ones.
 * 2: meta.vector_type (an xlir reading format 1 would take a halfvec column for a vector one).
 */
export const FORMAT_VERSION = 2;

/** How a dense collection stores its vectors: pgvector's vector (float32) or halfvec (float16). */
export type VectorType = "vector" | "halfvec";
export const VECTOR_TYPES: readonly VectorType[] = ["vector", "halfvec"];

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
export function createDdl(
  name: string,
  dims: number | null,
  vx: string,
  type: VectorType = "vector",
): string[] {
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
  text text NOT NULL,${dims === null ? "" : `\n  vector ${vx}.${type}(${dims}) NOT NULL,`}
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

/** The vector index kinds of PostgreSQL collections (store.ts AnnType). */
export type PgAnnType = "hnsw" | "hnsw_bq";

/**
 * The vector index on the chunks (one at a time: building one drops the other):
 *   hnsw     HNSW on the vectors for inner product (`<#>`: the negated dot product), with the
 *            operator class of the column's type (vector_ip_ops, halfvec_ip_ops);
 *   hnsw_bq  HNSW on the binary-quantised vectors (one bit per dimension: its sign) for Hamming
 *            distance, an expression index: 32x smaller than float32 vectors, its candidates
 *            re-ranked by the full vectors in the same query (bqQuery).
 */
export function hnswIndexDdl(
  name: string,
  vx: string,
  opts: HnswBuild,
  index: { kind: PgAnnType; type: VectorType; dims: number },
): string[] {
  const t = tables(name);
  const on =
    index.kind === "hnsw"
      ? `vector ${vx}.${index.type}_ip_ops`
      : `(${bits(vx, "vector", index.dims)}) ${vx}.bit_hamming_ops`;
  return [
    `DROP INDEX IF EXISTS ${t.schema}.chunks_vector_hnsw`,
    `DROP INDEX IF EXISTS ${t.schema}.chunks_vector_hnsw_bq`,
    `CREATE INDEX chunks_vector_${index.kind} ON ${t.chunks} USING hnsw (${on}) ` +
      `WITH (m = ${opts.m}, ef_construction = ${opts.efConstruction})`,
  ];
}

/** The binary quantisation of `v` as the hnsw_bq index holds it. */
function bits(vx: string, v: string, dims: number): string {
  return `${vx}.binary_quantize(${v})::bit(${dims})`;
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
 * back in pgvector's binary form (vector_send, halfvec_send), so their values arrive bit-exact.
 */
export function annQuery(
  name: string,
  vx: string,
  langConds: { negate: boolean }[],
  k: number,
  type: VectorType = "vector",
): string {
  const t = tables(name);
  return (
    `SELECT id, ${vx}.${type}_send(vector) AS v FROM ${t.chunks}${langWhere(langConds)}` +
    ` ORDER BY vector OPERATOR(${vx}.<#>) $1::${vx}.${type} LIMIT ${k}`
  );
}

/**
 * The hnsw_bq query: `candidates` chunks nearest in Hamming distance between the binary-quantised
 * vectors (through the index, language conditions as in annQuery), re-ranked by their full
 * vectors' dot product, best k kept.
 */
export function bqQuery(
  name: string,
  vx: string,
  langConds: { negate: boolean }[],
  k: number,
  candidates: number,
  type: VectorType,
  dims: number,
): string {
  const t = tables(name);
  return (
    `SELECT id, ${vx}.${type}_send(vector) AS v FROM (SELECT id, vector FROM ${t.chunks}${langWhere(langConds)}` +
    ` ORDER BY ${bits(vx, "vector", dims)} OPERATOR(${vx}.<~>) ${bits(vx, `$1::${vx}.${type}`, dims)} LIMIT ${candidates}) AS c` +
    ` ORDER BY ${dot(vx, type, "vector")} DESC, id LIMIT ${k}`
  );
}

function langWhere(langConds: { negate: boolean }[]): string {
  const where = langConds.map((c, i) => `${c.negate ? "NOT " : ""}(lang = ANY($${i + 2}::text[]))`);
  return where.length ? ` WHERE ${where.join(" AND ")}` : "";
}

/**
 * The dot product of column `v` and the query $1, in float32 (a halfvec is widened first, so the
 * query keeps its precision). Negating `<#>` makes an expression no vector index serves: ordering
 * by it is always a full scan, which is what exact search is.
 */
function dot(vx: string, type: VectorType, v: string): string {
  return `((${type === "halfvec" ? `${v}::${vx}.vector` : v}) OPERATOR(${vx}.<#>) $1::${vx}.vector) * -1`;
}

/**
 * Exact search in SQL: every live chunk (its document's row committed with its hash) passing
 * `where` (conditions on documents d, from filterSql; $1 is the query vector) scored by its dot
 * product, no index involved. `perDoc` null: the n best chunks, with their doc_id. `perDoc` a
 * number (Infinity: all): the n documents with the best sum of their `perDoc` best chunks' scores,
 * each with the ids of those chunks. `withDocs` adds the document's lang and metadata_text, for
 * checking the conditions `where` only narrows. Ties go to the smaller id, as everywhere else.
 */
export function exactQuery(
  name: string,
  vx: string,
  type: VectorType,
  where: string[],
  n: number,
  perDoc: number | null,
  withDocs: boolean,
): string {
  const t = tables(name);
  if (!Number.isInteger(n) || n < 1) throw new Error(`internal: bad n ${n}`);
  const from =
    `FROM ${t.chunks} c JOIN ${t.documents} d ON d.id = c.doc_id AND d.hash = c.doc_hash` +
    (where.length ? ` WHERE ${where.join(" AND ")}` : "");
  const docCols = withDocs ? ", d.lang, d.metadata_text" : "";
  const score = dot(vx, type, "c.vector");
  if (perDoc === null)
    return (
      `SELECT c.id, c.doc_id, ${vx}.${type}_send(c.vector) AS v${docCols} ${from} ` +
      `ORDER BY ${score} DESC, c.id LIMIT ${n}`
    );
  if (!(perDoc === Infinity || (Number.isInteger(perDoc) && perDoc >= 1)))
    throw new Error(`internal: bad perDoc ${perDoc}`);
  const some = perDoc !== Infinity;
  const groupCols = withDocs ? ", s.lang, s.metadata_text" : "";
  return (
    `SELECT s.doc_id, array_agg(s.id ORDER BY s.id) AS ids${groupCols} FROM (` +
    `SELECT c.id, c.doc_id, ${score} AS score${docCols}` +
    (some ? `, row_number() OVER (PARTITION BY c.doc_id ORDER BY ${score} DESC, c.id) AS r` : "") +
    ` ${from}) AS s${some ? ` WHERE s.r <= ${perDoc}` : ""} ` +
    `GROUP BY s.doc_id${groupCols} ORDER BY sum(s.score) DESC, s.doc_id LIMIT ${n}`
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

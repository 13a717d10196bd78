// A collection's rows in PostgreSQL + pgvector (optionally Citus): the Store of store.ts for
// collections that outgrow one machine. The SQL text lives in pg-sql.ts (schema layout, Citus
// distribution, the vector searches) and pg-filter.ts (filters as WHERE conditions); this file runs it: connections, transactions, locking, converting
// rows, and errors.
//
// Connections. One pg.Pool (max 4) per server URL, shared by every PgStore of this process on that
// URL (a server holding many collections opens 4 connections, not 4 per collection) and closed
// with the last of them. Every method runs on one pooled client at a time and awaits each
// statement before the next: nothing here waits on a second connection while holding a
// transaction open, which is what lets it run on PGlite (below).
//
// Transactions. Every write method is one transaction (BEGIN ... COMMIT on one client), so a crash
// leaves each table at its last commit, as LanceDB's commits do; upserts are INSERT ... ON CONFLICT
// DO UPDATE, so repeating one is harmless, and rows go in 1000 at a time as arrays (UNNEST), not as
// one statement per row. Every write to chunks also bumps meta.chunks_version in its transaction:
// that is chunksVersion(). Reads of whole tables page through them by id inside one read-only
// transaction (REPEATABLE READ: one snapshot for all pages; on Citus plain READ COMMITTED, which
// is what a multi-shard query gets anyway), so a large collection is never one giant result set.
// Rows come back ORDER BY id (byte order, COLLATE "C"): the collection code only needs columns
// aligned with each other, but a fixed order makes two reads comparable.
//
// The writer lock is a session-level advisory lock, pg_try_advisory_lock(hashtextextended(
// 'xlir:<name>', 0)), taken on a connection of its own (a pg.Client outside the pool, so a held
// lock never costs the writes a pooled connection) and held until unlock() runs or the
// connection drops: a crashed writer's lock goes with its session, with no stale lock to clean up.
// The writes themselves go through the pool: the lock excludes other writers, not this one.
//
// PGlite (the tests' server, through @electric-sql/pglite-socket) is one PostgreSQL session behind
// a multiplexer: every client connection shares the same backend, queries from different
// connections are run one at a time, and while one connection has a transaction open the others'
// queries wait until it ends. Three consequences, all handled here:
//   - Never wait on another connection inside a transaction (it would wait forever): see above.
//     Methods running at once on different connections are fine: their transactions queue up.
//   - Session state is shared: SET would leak between connections, so settings are SET LOCAL
//     inside the transaction that needs them (hnsw.ef_search, hnsw.iterative_scan).
//   - Advisory locks are re-entrant within a session, so on PGlite a second connection's
//     pg_try_advisory_lock succeeds while the first holds the lock. The lock statement therefore
//     first looks in pg_locks for the same lock already held by its own backend and counts that
//     as taken (one statement, so no other connection's query runs in between). On a real server
//     the lock's connection is always new, so its backend never holds the lock yet and this
//     check never fires; there it is pg_try_advisory_lock alone that excludes.
// The pglite-socket server must accept as many connections as are opened at once (its default
// is 1): the pools' plus one per held lock.
//
// Vectors go to the server as pgvector's text form ('[0.1,-2,...]'; a float32's shortest double
// repr parses back to the same float32 with strtof; a halfvec column rounds it to float16) and come
// back in its binary form, vector_send() (halfvec_send()): float32 (float16) bit for bit, and
// cheaper to decode than text. node-postgres cannot receive binary columns (its parser reads every
// value as text), hence the bytea of vector_send.
//
// Dense search runs on the server in both its forms, so no vector leaves it but the hits': through
// the vector index (annSearch), or exactly (exactSearch: a full scan, the filter pushed down into
// its WHERE, see pg-filter.ts). Either way the hits' vectors come back and are re-scored here in
// double precision, as the embedded store's exact search scores them.
//
// PostgreSQL text cannot hold NUL characters (LanceDB's strings can): a row with one is refused
// with a one-line error naming it before anything is written.
import pg from "pg";
import { f16ToF32 } from "../weights/safetensors.ts";
import { dotAll } from "./exact-search.ts";
import { allowedDocs, type Filter } from "./filter.ts";
import { filterSql } from "./pg-filter.ts";
import {
  displayUrl,
  FORMAT_VERSION,
  type HnswBuild,
  annQuery,
  annSettings,
  bqQuery,
  createDdl,
  distributedDdl,
  exactQuery,
  hnswIndexDdl,
  lockKeyText,
  type PgAnnType,
  quoteIdent,
  schemaName,
  tables,
  type VectorType,
} from "./pg-sql.ts";
import type {
  AnnHit,
  AnnOptions,
  AnnType,
  ChunkColumns,
  Claim,
  ChunkRow,
  DocColumns,
  DocRow,
  ExactOptions,
  Store,
} from "./store.ts";

export interface PgStoreOptions {
  /** HNSW build parameters (pgvector's defaults: m 16, ef_construction 64). */
  hnsw?: { m?: number; efConstruction?: number };
  /** On create: distribute the tables with Citus (the server needs the citus extension). */
  distributed?: boolean;
  /**
   * On create: how the vectors are stored, float32 (vector, the default) or float16 (halfvec: half
   * the bytes, pgvector 0.7+). Recorded in the collection; given when opening one, it must match.
   */
  vectorType?: VectorType;
}

const POOL_MAX = 4;
/** Rows per INSERT/UPDATE statement and ids per IN-list. */
const WRITE_BATCH = 1000;
/** Rows per page of a whole-table read (fewer with texts or vectors in them). */
const READ_PAGE = 20_000;
const TEXT_PAGE = 1000;
const CHUNK_TEXT_PAGE = 10_000;
const VECTOR_PAGE = 5000;
/**
 * hnsw.ef_search unless given (pgvector's own default is 40; bench:pg's recall figures are at 100),
 * and pgvector's maximum.
 */
const DEFAULT_EF = 100;
const MAX_EF = 1000;
/** hnsw_bq: candidates re-ranked by the full vectors, per hit wanted. */
const DEFAULT_REFINE = 10;

/** An error this file wrote itself: already one line, already free of the password. */
class PgStoreError extends Error {}

// ---------------------------------------------------------------------------------------------
// Pools and errors

const pools = new Map<string, { pool: pg.Pool; users: number }>();

function takePool(url: string): pg.Pool {
  let p = pools.get(url);
  if (!p) {
    const pool = new pg.Pool({
      connectionString: url,
      max: POOL_MAX,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
    });
    // An idle client whose connection drops: the pool discards it and the next query reconnects.
    // Without a listener the 'error' event would kill the process.
    pool.on("error", () => {});
    p = { pool, users: 0 };
    pools.set(url, p);
  }
  p.users++;
  return p.pool;
}

async function givePool(url: string): Promise<void> {
  const p = pools.get(url);
  if (!p || --p.users > 0) return;
  pools.delete(url);
  await p.pool.end().catch(() => {});
}

async function withPool<T>(url: string, f: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = takePool(url);
  try {
    return await f(pool);
  } finally {
    await givePool(url);
  }
}

/** `msg` without the URL's password, in any spelling it may appear in. */
function scrub(msg: string, url: string): string {
  let out = msg.split(url).join(displayUrl(url));
  let secrets: string[] = [];
  try {
    const u = new URL(url);
    secrets = [u.password, decodeURIComponent(u.password), u.searchParams.get("password") ?? ""];
  } catch {
    // unparsable: node-postgres will say so without echoing it
  }
  for (const s of secrets) if (s) out = out.split(s).join("***");
  return out;
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "3D000", // invalid_catalog_name: no such database
  "53300", // too_many_connections
  "57P03", // cannot_connect_now
]);

/** Any failure as a one-line error naming the collection (if any) and the server, never the password. */
function pgError(e: unknown, url: string, name: string | null, doing: string): Error {
  if (e instanceof PgStoreError) return e;
  const err = e as { message?: string; code?: string };
  const msg = scrub(String(err.message ?? e).replace(/\s*\n\s*/g, " "), url);
  const code = typeof err.code === "string" ? err.code : "";
  const where = displayUrl(url);
  const unreachable =
    UNREACHABLE.has(code) ||
    code.startsWith("08") || // connection_exception
    code.startsWith("28") || // invalid_authorization_specification (bad password, ...)
    /Connection terminated|connection timeout|Connection refused/i.test(msg);
  const text = unreachable
    ? `cannot reach PostgreSQL at ${where}${name === null ? "" : ` for collection "${name}"`}: ${msg}`
    : name === null
      ? `PostgreSQL at ${where}: cannot ${doing}: ${msg}`
      : `collection "${name}" (PostgreSQL at ${where}): cannot ${doing}: ${msg}`;
  // the cause keeps the driver's details, unless they carry the password
  return msg === String(err.message ?? e).replace(/\s*\n\s*/g, " ")
    ? new PgStoreError(text, { cause: e })
    : new PgStoreError(text);
}

// ---------------------------------------------------------------------------------------------
// Rows to and from SQL

function* batches<T>(rows: readonly T[], size = WRITE_BATCH): Generator<T[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/** The last row of each id (one statement cannot upsert the same key twice). */
function lastById<T extends { id: string }>(rows: readonly T[]): T[] {
  const at = new Map<string, number>();
  rows.forEach((r, i) => at.set(r.id, i));
  return at.size === rows.length ? [...rows] : [...at.values()].sort((a, b) => a - b).map((i) => rows[i]);
}

/** pgvector's text form of row `r` of `vectors`. */
function vectorText(vectors: Float32Array, r: number, dims: number): string {
  return `[${Array.prototype.join.call(vectors.subarray(r * dims, (r + 1) * dims), ",")}]`;
}

/**
 * Decodes vector_send() values (int16 dims, int16 unused, dims big-endian float32), or
 * halfvec_send() ones (the same with float16), into `out` at row `at`.
 */
function decodeVectors(
  bufs: readonly Buffer[],
  dims: number,
  out: Float32Array,
  at: number,
  type: VectorType,
): void {
  const size = type === "halfvec" ? 2 : 4;
  const half = new Uint16Array(type === "halfvec" ? dims : 0);
  for (let r = 0; r < bufs.length; r++) {
    const b = bufs[r];
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (b.byteLength !== 4 + size * dims || view.getInt16(0) !== dims) {
      throw new Error(`internal: a stored vector has ${view.getInt16(0)} dims, the collection ${dims}`);
    }
    const base = (at + r) * dims;
    if (size === 4) for (let j = 0; j < dims; j++) out[base + j] = view.getFloat32(4 + 4 * j);
    else {
      for (let j = 0; j < dims; j++) half[j] = view.getUint16(4 + 2 * j);
      out.set(f16ToF32(half), base);
    }
  }
}

// ---------------------------------------------------------------------------------------------

const LOCK_SQL = `WITH k AS (SELECT hashtextextended($1, 0) AS key)
SELECT CASE
  WHEN EXISTS (
    SELECT 1 FROM pg_locks l, k
    WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.objsubid = 1
      AND l.classid = ((k.key >> 32) & 4294967295)::oid AND l.objid = (k.key & 4294967295)::oid
  ) THEN false
  ELSE pg_try_advisory_lock((SELECT key FROM k))
END AS taken`;

const UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";

/** Migrations from format version N to N + 1 (statements run in one transaction), by N. */
const MIGRATIONS: Record<number, (name: string) => string[]> = {
  1: (name) => [
    `INSERT INTO ${tables(name).meta} (key, value) VALUES ('vector_type', 'vector') ON CONFLICT (key) DO NOTHING`,
  ],
};

interface VectorExt {
  /** Quoted schema of the extension. */
  schema: string;
  version: [number, number];
}

async function vectorExtension(q: pg.Pool | pg.ClientBase): Promise<VectorExt | null> {
  const r = await q.query(
    `SELECT n.nspname, e.extversion FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector'`,
  );
  if (r.rows.length === 0) return null;
  const [major, minor] = String(r.rows[0].extversion)
    .split(".")
    .map((x) => Number.parseInt(x, 10));
  return { schema: quoteIdent(r.rows[0].nspname), version: [major || 0, minor || 0] };
}

const atLeast = (v: [number, number], major: number, minor: number) =>
  v[0] > major || (v[0] === major && v[1] >= minor);

export class PgStore implements Store {
  readonly kind = "postgres";
  readonly annTypes: readonly AnnType[] = ["hnsw", "hnsw_bq"];
  private readonly t: ReturnType<typeof tables>;
  private closed = false;

  private constructor(
    readonly url: string,
    readonly name: string,
    readonly dims: number | null,
    /** Collection's tables distributed with Citus. */
    readonly distributed: boolean,
    private readonly pool: pg.Pool,
    private readonly vector: VectorExt | null,
    private readonly hnsw: HnswBuild,
    /** How the vectors are stored ("vector" in BM25-only collections, which have none). */
    readonly vectorType: VectorType,
  ) {
    this.t = tables(name);
  }

  /**
   * Opens collection `name` on the server at `url`, creating its schema when `create` (dims: the
   * vector size, or null for a BM25-only collection). An existing collection keeps the dims it was
   * created with: `dims` null takes them, another number than theirs is an error.
   */
  static async open(
    url: string,
    name: string,
    dims: number | null,
    create = false,
    opts: PgStoreOptions = {},
  ): Promise<PgStore> {
    const schema = schemaName(name); // checks the name
    const hnsw: HnswBuild = { m: opts.hnsw?.m ?? 16, efConstruction: opts.hnsw?.efConstruction ?? 64 };
    if (
      !(Number.isInteger(hnsw.m) && hnsw.m >= 2 && hnsw.m <= 100) ||
      !(
        Number.isInteger(hnsw.efConstruction) &&
        hnsw.efConstruction >= 2 * hnsw.m &&
        hnsw.efConstruction <= 1000
      )
    ) {
      throw new Error(
        `HNSW options: m must be 2..100 and efConstruction 2*m..1000 (got ${hnsw.m}, ${hnsw.efConstruction})`,
      );
    }
    const pool = takePool(url);
    try {
      const exists = await schemaExists(pool, schema);
      if (!exists && !create) throw missing(url, name);
      if (!exists)
        await createCollection(pool, url, name, dims, opts.distributed ?? false, opts.vectorType ?? "vector");
      const meta = await readMeta(pool, url, name);
      const version = Number(meta.get("format_version"));
      if (!Number.isInteger(version) || version < 1)
        throw damaged(url, name, "its format_version is missing");
      if (version > FORMAT_VERSION) {
        throw new PgStoreError(
          `collection "${name}" (PostgreSQL at ${displayUrl(url)}) has format version ${version}; ` +
            `this xlir reads format ${FORMAT_VERSION} at most: upgrade xlir`,
        );
      }
      if (version < FORMAT_VERSION) await migrate(pool, url, name, version);
      const stored = meta.get("dims") ? Number(meta.get("dims")) : null;
      if (dims !== null && stored !== dims) {
        throw new PgStoreError(
          `collection "${name}" (PostgreSQL at ${displayUrl(url)}) holds ` +
            `${stored === null ? "no vectors" : `${stored}-dimensional vectors`}, not ${dims}-dimensional ones`,
        );
      }
      let vector: VectorExt | null = null;
      if (stored !== null) {
        vector = await vectorExtension(pool);
        if (vector === null)
          throw damaged(url, name, "the vector extension (pgvector) is gone from the database");
      }
      const type = (meta.get("vector_type") ?? "vector") as VectorType;
      if (stored !== null && opts.vectorType !== undefined && opts.vectorType !== type) {
        throw new PgStoreError(
          `collection "${name}" (PostgreSQL at ${displayUrl(url)}) stores its vectors as ${type}, ` +
            `not ${opts.vectorType}: the vector type is chosen when a collection is created`,
        );
      }
      return new PgStore(url, name, stored, meta.get("distributed") === "true", pool, vector, hnsw, type);
    } catch (e) {
      await givePool(url);
      throw pgError(e, url, name, "open the collection");
    }
  }

  static async exists(url: string, name: string): Promise<boolean> {
    const schema = schemaName(name);
    try {
      return await withPool(url, (pool) => schemaExists(pool, schema));
    } catch (e) {
      throw pgError(e, url, name, "look the collection up");
    }
  }

  /** Names of the collections on the server, sorted (byte order). */
  static async list(url: string): Promise<string[]> {
    try {
      const r = await withPool(url, (pool) =>
        pool.query(
          `SELECT coalesce(obj_description(oid, 'pg_namespace'), substr(nspname, 6)) AS name
           FROM pg_namespace WHERE nspname LIKE 'xlir:%'`,
        ),
      );
      const names = r.rows.map((x) => x.name as string).filter(isCollectionName);
      return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    } catch (e) {
      throw pgError(e, url, null, "list the collections");
    }
  }

  /** Deletes the collection's schema and everything in it; false when there was none. */
  static async drop(url: string, name: string): Promise<boolean> {
    const schema = schemaName(name);
    try {
      return await withPool(url, async (pool) => {
        if (!(await schemaExists(pool, schema))) return false;
        await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
        return true;
      });
    } catch (e) {
      throw pgError(e, url, name, "delete the collection");
    }
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  /** Runs `f`, turning any failure into the one-line error. */
  private async run<T>(doing: string, f: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(`internal: collection "${this.name}" was closed`);
    try {
      return await f();
    } catch (e) {
      throw pgError(e, this.url, this.name, doing);
    }
  }

  /** `f` in one transaction on one pooled client. */
  private async tx<T>(f: (c: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query(begin);
      const out = await f(c);
      await c.query("COMMIT");
      return out;
    } catch (e) {
      // a client that cannot even roll back has lost its connection: drop it from the pool
      await c.query("ROLLBACK").catch((e2: Error) => (broken = e2));
      throw e;
    } finally {
      c.release(broken);
    }
  }

  private bumpChunksVersion(c: pg.ClientBase): Promise<unknown> {
    return c.query(
      `UPDATE ${this.t.meta} SET value = (value::bigint + 1)::text WHERE key = 'chunks_version'`,
    );
  }

  /**
   * Every row of `table` (`cols` start with id), page by page in id order, in one read-only
   * transaction; `each` gets each page's rows as arrays.
   */
  private async pages(table: string, cols: string, page: number, each: (rows: unknown[][]) => void) {
    const begin = this.readBegin;
    await this.tx(async (c) => {
      let last: string | null = null;
      for (;;) {
        const r: pg.QueryArrayResult = await c.query({
          text:
            last === null
              ? `SELECT ${cols} FROM ${table} ORDER BY id LIMIT ${page}`
              : `SELECT ${cols} FROM ${table} WHERE id > $1 ORDER BY id LIMIT ${page}`,
          values: last === null ? [] : [last],
          rowMode: "array",
        });
        if (r.rows.length > 0) each(r.rows);
        if (r.rows.length < page) return;
        last = r.rows[r.rows.length - 1][0] as string;
      }
    }, begin);
  }

  /** A read-only transaction's BEGIN: one snapshot for all its queries (see the top of this file). */
  private get readBegin(): string {
    return this.distributed ? "BEGIN READ ONLY" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  }

  /** Rows of `table` whose id is in `ids`, 1000 ids per query (on client `on`, else the pool). */
  private async byIds(
    table: string,
    cols: string,
    ids: readonly string[],
    on: pg.Pool | pg.ClientBase = this.pool,
  ): Promise<unknown[][]> {
    const out: unknown[][] = [];
    for (const batch of batches([...new Set(ids)])) {
      const r = await on.query({
        text: `SELECT ${cols} FROM ${table} WHERE id = ANY($1::text[]) ORDER BY id`,
        values: [batch],
        rowMode: "array",
      });
      for (const row of r.rows) out.push(row);
    }
    return out;
  }

  /** Refuses strings PostgreSQL text cannot hold, naming the row. */
  private checkText(what: string, id: string, values: readonly (string | null)[]): void {
    for (const v of values) {
      if (v !== null && v.includes("\0")) {
        throw new PgStoreError(
          `collection "${this.name}": ${what} ${JSON.stringify(id)} holds a NUL character (\\u0000), ` +
            `which PostgreSQL text cannot store; remove it from the source`,
        );
      }
    }
  }

  private vectorsOf(rows: number, vectors: Float32Array | null): Float32Array | null {
    if (this.dims === null) return null;
    if (vectors === null || vectors.length !== rows * this.dims) {
      throw new Error(`internal: ${rows} chunks need ${rows}x${this.dims} vector values`);
    }
    return vectors;
  }

  // -------------------------------------------------------------------------------------------
  // Store

  async verify(): Promise<void> {
    await this.run("check the collection", async () => {
      if (!(await schemaExists(this.pool, schemaName(this.name)))) throw missing(this.url, this.name);
      const names = ["documents", "chunks", "blobs", "meta"] as const;
      const r = await this.pool.query(
        `SELECT n, to_regclass(q) IS NOT NULL AS ok FROM unnest($1::text[], $2::text[]) AS x(n, q)`,
        [names, names.map((n) => this.t[n])],
      );
      const gone = r.rows.filter((x) => !x.ok).map((x) => x.n as string);
      if (gone.length) throw damaged(this.url, this.name, `its ${gone.join(", ")} table(s) are missing`);
      const meta = await readMeta(this.pool, this.url, this.name);
      const version = Number(meta.get("format_version"));
      if (!Number.isInteger(version) || version < 1 || version > FORMAT_VERSION) {
        throw damaged(
          this.url,
          this.name,
          `its format_version ${JSON.stringify(meta.get("format_version"))} is unknown`,
        );
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await givePool(this.url);
  }

  /** Bytes of the collection's tables with their indexes and TOAST (on Citus: all shards). */
  async sizeBytes(): Promise<number> {
    const size = this.distributed ? "citus_total_relation_size" : "pg_total_relation_size";
    return this.run("measure the tables", async () => {
      const r = await this.pool.query(
        `SELECT coalesce(sum(${size}(to_regclass(q))), 0) AS n FROM unnest($1::text[]) AS q WHERE to_regclass(q) IS NOT NULL`,
        [[this.t.documents, this.t.chunks, this.t.blobs, this.t.meta]],
      );
      return Number(r.rows[0].n);
    });
  }

  async countDocs(): Promise<number> {
    return this.run("count documents", async () =>
      Number((await this.pool.query(`SELECT count(*) AS n FROM ${this.t.documents}`)).rows[0].n),
    );
  }

  async countChunks(): Promise<number> {
    return this.run("count chunks", async () =>
      Number((await this.pool.query(`SELECT count(*) AS n FROM ${this.t.chunks}`)).rows[0].n),
    );
  }

  async chunksVersion(): Promise<number> {
    return this.run("read the chunks version", async () => {
      const r = await this.pool.query(`SELECT value FROM ${this.t.meta} WHERE key = 'chunks_version'`);
      if (r.rows.length === 0) throw damaged(this.url, this.name, "its chunks_version is missing");
      return Number(r.rows[0].value);
    });
  }

  async committedDocs(): Promise<Map<string, { hash: string; chunks: number }>> {
    const out = new Map<string, { hash: string; chunks: number }>();
    await this.run("read documents", () =>
      this.pages(this.t.documents, "id, hash, chunks", READ_PAGE, (rows) => {
        for (const [id, hash, chunks] of rows)
          out.set(id as string, { hash: hash as string, chunks: chunks as number });
      }),
    );
    return out;
  }

  async readDocs(): Promise<DocColumns> {
    const out: DocColumns = { ids: [], hashes: [], langs: [], titles: [], metadata: [] };
    await this.run("read documents", () =>
      this.pages(this.t.documents, "id, hash, lang, title, metadata_text", READ_PAGE, (rows) => {
        for (const [id, hash, lang, title, metadata] of rows) {
          out.ids.push(id as string);
          out.hashes.push(hash as string);
          out.langs.push(lang as string);
          out.titles.push(title as string | null);
          out.metadata.push(metadata as string);
        }
      }),
    );
    return out;
  }

  async readChunks(withVectors: boolean): Promise<ChunkColumns> {
    const dims = withVectors ? this.dims : null;
    const ids: string[] = [];
    const docIds: string[] = [];
    const docHashes: string[] = [];
    const parts: Float32Array[] = [];
    const cols =
      dims === null
        ? "id, doc_id, doc_hash"
        : `id, doc_id, doc_hash, ${this.vector!.schema}.${this.vectorType}_send(vector)`;
    await this.run("read chunks", () =>
      this.pages(this.t.chunks, cols, dims === null ? READ_PAGE : VECTOR_PAGE, (rows) => {
        for (const row of rows) {
          ids.push(row[0] as string);
          docIds.push(row[1] as string);
          docHashes.push(row[2] as string);
        }
        if (dims !== null) {
          const part = new Float32Array(rows.length * dims);
          decodeVectors(
            rows.map((r) => r[3] as Buffer),
            dims,
            part,
            0,
            this.vectorType,
          );
          parts.push(part);
        }
      }),
    );
    let vectors: Float32Array | null = null;
    if (dims !== null) {
      vectors = new Float32Array(ids.length * dims);
      let at = 0;
      for (const p of parts) {
        vectors.set(p, at);
        at += p.length;
      }
    }
    return { ids, docIds, docHashes, vectors };
  }

  async readChunkTexts(): Promise<{ ids: string[]; texts: string[]; langs: string[] }> {
    const out = { ids: [] as string[], texts: [] as string[], langs: [] as string[] };
    await this.run("read chunk texts", () =>
      this.pages(this.t.chunks, "id, prefix, text, lang", CHUNK_TEXT_PAGE, (rows) => {
        for (const [id, prefix, text, lang] of rows) {
          out.ids.push(id as string);
          out.texts.push((prefix as string) + (text as string));
          out.langs.push(lang as string);
        }
      }),
    );
    return out;
  }

  async scanDocTexts(
    each: (batch: { langs: string[]; titles: (string | null)[]; texts: string[] }) => void,
  ): Promise<void> {
    await this.run("read documents", () =>
      this.pages(this.t.documents, "id, lang, title, text", TEXT_PAGE, (rows) =>
        each({
          langs: rows.map((r) => r[1] as string),
          titles: rows.map((r) => r[2] as string | null),
          texts: rows.map((r) => r[3] as string),
        }),
      ),
    );
  }

  async fetchChunkRows(ids: readonly string[]): Promise<ChunkRow[]> {
    const rows = await this.run("read chunks", () =>
      this.byIds(this.t.chunks, "id, doc_id, doc_hash, chunk, span_start, span_end, lang, prefix, text", ids),
    );
    return rows.map(([id, docId, docHash, chunk, start, end, lang, prefix, text]) => ({
      id: id as string,
      docId: docId as string,
      docHash: docHash as string,
      chunk: chunk as number,
      start: start as number,
      end: end as number,
      lang: lang as string,
      prefix: prefix as string,
      text: text as string,
    }));
  }

  async fetchChunks(
    ids: readonly string[],
  ): Promise<Map<string, { text: string; start: number; end: number }>> {
    const rows = await this.run("read chunks", () =>
      this.byIds(this.t.chunks, "id, text, span_start, span_end", ids),
    );
    return new Map(
      rows.map(([id, text, start, end]) => [
        id as string,
        { text: text as string, start: start as number, end: end as number },
      ]),
    );
  }

  async fetchDocs(ids: readonly string[]): Promise<Map<string, DocRow>> {
    const rows = await this.run("read documents", () =>
      this.byIds(this.t.documents, "id, hash, title, lang, metadata_text, text, chunks", ids),
    );
    return new Map(
      rows.map(([id, hash, title, lang, metadata, text, chunks]) => [
        id as string,
        {
          id: id as string,
          hash: hash as string,
          title: title as string | null,
          lang: lang as string,
          metadata: metadata as string,
          text: text as string,
          chunks: chunks as number,
        },
      ]),
    );
  }

  async addChunks(rows: readonly ChunkRow[], vectors: Float32Array | null): Promise<void> {
    if (rows.length === 0) return;
    await this.writeChunks("add chunks", rows, this.vectorsOf(rows.length, vectors), "upsert");
  }

  async replaceChunks(rows: readonly ChunkRow[], vectors: Float32Array): Promise<void> {
    if (rows.length === 0) return;
    await this.writeChunks("replace chunks", rows, this.vectorsOf(rows.length, vectors), "update");
  }

  /**
   * Chunks as one transaction: "upsert" inserts them (replacing rows of the same id, so a repeated
   * add is harmless), "update" rewrites only those that exist (LanceDB's merge-insert when-matched).
   */
  private async writeChunks(
    doing: string,
    input: readonly ChunkRow[],
    inputVectors: Float32Array | null,
    mode: "upsert" | "update",
  ): Promise<void> {
    for (const r of input)
      this.checkText("chunk", r.id, [r.id, r.docId, r.docHash, r.lang, r.prefix, r.text]);
    const dims = this.dims;
    // the last row of each id, with its vector
    const keep = lastById(input.map((r, i) => ({ id: r.id, i })));
    const rows = keep.map((k) => input[k.i]);
    const vx = this.vector?.schema;
    const cols = "id, doc_id, doc_hash, chunk, span_start, span_end, lang, prefix, text";
    const unnest =
      `unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::text[], $8::text[], ` +
      `$9::text[]${dims === null ? "" : ", $10::text[]"}) AS r(${cols}${dims === null ? "" : ", v"})`;
    const set = ["doc_hash", "chunk", "span_start", "span_end", "lang", "prefix", "text"];
    const sql =
      mode === "upsert"
        ? `INSERT INTO ${this.t.chunks} (${cols}${dims === null ? "" : ", vector"}) ` +
          `SELECT ${cols}${dims === null ? "" : `, v::${vx}.${this.vectorType}`} FROM ${unnest} ` +
          `ON CONFLICT (id, doc_id) DO UPDATE SET ` +
          [...set, ...(dims === null ? [] : ["vector"])].map((c) => `${c} = EXCLUDED.${c}`).join(", ")
        : `UPDATE ${this.t.chunks} AS c SET ` +
          [
            ...set.map((c) => `${c} = r.${c}`),
            ...(dims === null ? [] : [`vector = r.v::${vx}.${this.vectorType}`]),
          ].join(", ") +
          ` FROM ${unnest} WHERE c.id = r.id AND c.doc_id = r.doc_id`;
    await this.run(doing, () =>
      this.tx(async (c) => {
        for (let at = 0; at < rows.length; at += WRITE_BATCH) {
          const b = rows.slice(at, at + WRITE_BATCH);
          const values: unknown[] = [
            b.map((r) => r.id),
            b.map((r) => r.docId),
            b.map((r) => r.docHash),
            b.map((r) => r.chunk),
            b.map((r) => r.start),
            b.map((r) => r.end),
            b.map((r) => r.lang),
            b.map((r) => r.prefix),
            b.map((r) => r.text),
          ];
          if (dims !== null)
            values.push(keep.slice(at, at + WRITE_BATCH).map((k) => vectorText(inputVectors!, k.i, dims)));
          await c.query(sql, values);
        }
        await this.bumpChunksVersion(c);
      }),
    );
  }

  async upsertDocs(input: readonly DocRow[]): Promise<void> {
    if (input.length === 0) return;
    for (const r of input)
      this.checkText("document", r.id, [r.id, r.hash, r.title, r.lang, r.metadata, r.text]);
    const rows = lastById(input);
    const sql =
      `INSERT INTO ${this.t.documents} (id, hash, title, lang, metadata_text, metadata, text, chunks) ` +
      `SELECT id, hash, title, lang, metadata_text, metadata::jsonb, text, chunks ` +
      `FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[]) ` +
      `AS r(id, hash, title, lang, metadata_text, metadata, text, chunks) ` +
      `ON CONFLICT (id) DO UPDATE SET hash = EXCLUDED.hash, title = EXCLUDED.title, lang = EXCLUDED.lang, ` +
      `metadata_text = EXCLUDED.metadata_text, metadata = EXCLUDED.metadata, text = EXCLUDED.text, ` +
      `chunks = EXCLUDED.chunks`;
    await this.run("write documents", () =>
      this.tx(async (c) => {
        for (const b of batches(rows)) {
          await c.query(sql, [
            b.map((r) => r.id),
            b.map((r) => r.hash),
            b.map((r) => r.title),
            b.map((r) => r.lang),
            b.map((r) => r.metadata),
            // the jsonb copy: the exact text stays in metadata_text; jsonb refuses "" and \u0000
            b.map((r) => (r.metadata === "" || r.metadata.includes("\\u0000") ? null : r.metadata)),
            b.map((r) => r.text),
            b.map((r) => r.chunks),
          ]);
        }
      }),
    );
  }

  async deleteDocs(ids: readonly string[]): Promise<void> {
    await this.deleteWhere("delete documents", this.t.documents, "id", ids, false);
  }

  async deleteChunksOfDocs(docIds: readonly string[]): Promise<void> {
    await this.deleteWhere("delete chunks", this.t.chunks, "doc_id", docIds, true);
  }

  async deleteChunks(ids: readonly string[]): Promise<void> {
    await this.deleteWhere("delete chunks", this.t.chunks, "id", ids, true);
  }

  private async deleteWhere(
    doing: string,
    table: string,
    col: string,
    keys: readonly string[],
    chunks: boolean,
  ) {
    if (keys.length === 0) return;
    await this.run(doing, () =>
      this.tx(async (c) => {
        for (const b of batches(keys))
          await c.query(`DELETE FROM ${table} WHERE ${col} = ANY($1::text[])`, [b]);
        if (chunks) await this.bumpChunksVersion(c);
      }),
    );
  }

  /**
   * Refreshes the planner's statistics. VACUUM would also reclaim deleted rows' space, but it
   * cannot run inside a transaction block, and autovacuum does it anyway; ANALYZE is cheap (a
   * sample) and is what a filtered HNSW search's plan depends on.
   */
  async optimize(): Promise<void> {
    await this.run("analyze the tables", () =>
      this.pool.query(`ANALYZE ${this.t.documents}, ${this.t.chunks}, ${this.t.blobs}, ${this.t.meta}`),
    );
  }

  async hasVectorIndex(): Promise<boolean> {
    return this.run("list indexes", async () => {
      const r = await this.pool.query(
        `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND tablename = 'chunks'
           AND indexdef LIKE '%USING hnsw%') AS has`,
        [schemaName(this.name)],
      );
      return r.rows[0].has as boolean;
    });
  }

  /**
   * Builds (or rebuilds) the vector index on the chunk vectors, replacing the other kind (the row
   * count is not needed): hnsw, or hnsw_bq (see hnswIndexDdl).
   */
  async createVectorIndex(type: AnnType): Promise<void> {
    const kind = this.checkAnn(type);
    await this.run(`build the ${kind} index`, () =>
      this.tx(async (c) => {
        const index = { kind, type: this.vectorType, dims: this.dims! };
        for (const s of hnswIndexDdl(this.name, this.vector!.schema, this.hnsw, index)) await c.query(s);
      }),
    );
  }

  private checkAnn(type: AnnType): PgAnnType {
    if (this.dims === null) throw new PgStoreError(`collection "${this.name}" has no vectors to index`);
    if (type !== "hnsw" && type !== "hnsw_bq") {
      throw new PgStoreError(
        `collection "${this.name}" is in PostgreSQL, whose vector index is hnsw_bq or hnsw, not ${type}`,
      );
    }
    // binary_quantize and bit_hamming_ops came with 0.7
    const [major, minor] = type === "hnsw" ? [0, 5] : [0, 7];
    if (!atLeast(this.vector!.version, major, minor)) {
      throw new PgStoreError(
        `PostgreSQL at ${displayUrl(this.url)} has pgvector ${this.vector!.version.join(".")}: ${type} needs ${major}.${minor} or later`,
      );
    }
    return type;
  }

  private checkQuery(query: Float32Array): number {
    if (this.dims === null) throw new PgStoreError(`collection "${this.name}" has no vectors to search`);
    if (query.length !== this.dims)
      throw new Error(`query vector has ${query.length} dims, the collection ${this.dims}`);
    return this.dims;
  }

  /**
   * The k nearest chunks through the vector index (with the filter's language conditions applied
   * in the search), scored by the exact dot product of their stored vectors and sorted by it.
   * hnsw_bq takes k x refineFactor candidates by Hamming distance and keeps the k best by the full
   * vectors (one query); its candidate list (ef) is at least that long.
   */
  async annSearch(query: Float32Array, k: number, opts: AnnOptions): Promise<AnnHit[]> {
    const kind = this.checkAnn(opts.type);
    const dims = this.checkQuery(query);
    if (!Number.isInteger(k) || k < 0) throw new Error(`internal: bad k ${k}`);
    if (k === 0) return [];
    const langs = (opts.filter ?? []).filter((c) => c.field === "lang");
    const candidates = kind === "hnsw" ? k : k * Math.max(1, Math.round(opts.refineFactor ?? DEFAULT_REFINE));
    const ef = Math.min(MAX_EF, Math.max(candidates, Math.round(opts.ef ?? DEFAULT_EF)));
    const iterative = atLeast(this.vector!.version, 0, 8);
    const vx = this.vector!.schema;
    const rows = await this.run("search", () =>
      this.tx(async (c) => {
        for (const s of annSettings(ef, iterative, this.distributed)) await c.query(s);
        const r = await c.query({
          text:
            kind === "hnsw"
              ? annQuery(this.name, vx, langs, k, this.vectorType)
              : bqQuery(this.name, vx, langs, k, candidates, this.vectorType, dims),
          values: [vectorText(query, 0, dims), ...langs.map((l) => l.values)],
          rowMode: "array",
        });
        return r.rows;
      }, "BEGIN READ ONLY"),
    );
    return this.scored(
      rows.map((r) => r[0] as string),
      rows.map((r) => r[1] as Buffer),
      query,
    );
  }

  /**
   * Exact dense search on the server (exactQuery: a full scan, the filter in its WHERE): the chunks
   * that rank the best `opts.docs` documents passing the filter by `opts.docScore`, scored by the
   * exact dot product of their stored vectors (double precision, as the embedded store's exact
   * search), best first.
   *
   * pgvector sums in float32, so which rows make its LIMIT may differ from the double-precision
   * order between near-equal scores: twice the documents asked for are fetched, so such a swap at
   * the cut cannot reach the top `docs`. Rows the WHERE lets through but the filter does not (it
   * widens metadata conditions, see pg-filter.ts) are dropped here, and while too few documents
   * pass, the query runs again with a LIMIT 4x larger, until enough pass or no rows are left.
   */
  async exactSearch(query: Float32Array, opts: ExactOptions): Promise<AnnHit[]> {
    const dims = this.checkQuery(query);
    if (!Number.isInteger(opts.docs) || opts.docs < 0) throw new Error(`internal: bad docs ${opts.docs}`);
    if (opts.docs === 0) return [];
    const filter = opts.filter ?? [];
    const where = filterSql(filter, 2);
    const check: Filter | null = where.exact ? null : filter;
    const perDoc = opts.docScore.kind === "sum" ? opts.docScore.top : null;
    const want = 2 * opts.docs;
    const vx = this.vector!.schema;
    const values = [vectorText(query, 0, dims), ...where.values];
    // the LIMIT counts chunks (max: a document may have several) or documents (sum)
    let n = want * (check === null ? 1 : 4);
    for (;;) {
      const found = await this.run("search", () =>
        this.tx(async (c) => {
          const r = await c.query({
            text: exactQuery(this.name, vx, this.vectorType, where.where, n, perDoc, check !== null),
            values,
            rowMode: "array",
          });
          const at = perDoc === null ? 3 : 2; // where lang and metadata_text start
          const pass =
            check === null
              ? null
              : allowedDocs(
                  check,
                  r.rows.map((x) => x[at] as string),
                  r.rows.map((x) => x[at + 1] as string),
                );
          const rows = r.rows.filter((_, i) => pass === null || pass[i]);
          const docs = new Set(rows.map((x) => x[perDoc === null ? 1 : 0] as string)).size;
          if (r.rows.length === n && docs < want) return null;
          if (perDoc === null)
            return { ids: rows.map((x) => x[0] as string), bufs: rows.map((x) => x[2] as Buffer) };
          // sum: the chosen chunks' vectors, in the same snapshot
          const chunks = await this.byIds(
            this.t.chunks,
            `id, ${vx}.${this.vectorType}_send(vector)`,
            rows.flatMap((x) => x[1] as string[]),
            c,
          );
          return { ids: chunks.map((x) => x[0] as string), bufs: chunks.map((x) => x[1] as Buffer) };
        }, this.readBegin),
      );
      if (found !== null) return this.scored(found.ids, found.bufs, query);
      n *= 4;
    }
  }

  /** Chunks `ids` scored by the dot product of `query` and their vectors `bufs` (the _send form), best first. */
  private scored(ids: string[], bufs: Buffer[], query: Float32Array): AnnHit[] {
    const dims = this.dims!;
    const vectors = new Float32Array(ids.length * dims);
    decodeVectors(bufs, dims, vectors, 0, this.vectorType);
    const scores = dotAll(vectors, dims, query);
    return ids
      .map((id, i) => ({ id, score: scores[i] }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // -------------------------------------------------------------------------------------------
  // Blobs and the lock

  async readBlob(name: string): Promise<Buffer | null> {
    return this.run(`read ${name}`, async () => {
      const r = await this.pool.query(`SELECT data FROM ${this.t.blobs} WHERE name = $1`, [name]);
      return r.rows.length ? (r.rows[0].data as Buffer) : null;
    });
  }

  /** Replaces blob `name` whole (one statement: readers see the old value or the new one). */
  async writeBlob(name: string, data: Uint8Array): Promise<void> {
    await this.run(`write ${name}`, () =>
      this.pool.query(
        `INSERT INTO ${this.t.blobs} (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data`,
        [name, Buffer.from(data.buffer, data.byteOffset, data.byteLength)],
      ),
    );
  }

  /**
   * Names starting with `prefix`, sorted, as the embedded store's folder listing gives them: one
   * level, so "agg-vocab/" lists "agg-vocab/<lang>.json" and "" does not.
   */
  async listBlobs(prefix: string): Promise<string[]> {
    const level = prefix.slice(0, prefix.lastIndexOf("/") + 1).length;
    return this.run("list blobs", async () => {
      const r = await this.pool.query(
        `SELECT name FROM ${this.t.blobs} WHERE starts_with(name, $1) ORDER BY name`,
        [prefix],
      );
      return r.rows.map((x) => x.name as string).filter((n) => !n.slice(level).includes("/"));
    });
  }

  async deleteBlobs(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await this.run("delete blobs", () =>
      this.pool.query(`DELETE FROM ${this.t.blobs} WHERE name = ANY($1)`, [names]),
    );
  }

  /** Takes the writer lock (see the top of this file); the returned function releases it. */
  async lock(): Promise<() => Promise<void>> {
    const unlock = await this.tryLock();
    if (unlock === null) {
      throw new PgStoreError(
        `collection "${this.name}" is being written by another process (PostgreSQL advisory lock held): ` +
          `wait for it to finish, or stop it`,
      );
    }
    return unlock;
  }

  /** The writer lock if no one holds it (a writer of this process included), else null. */
  async tryLock(): Promise<(() => Promise<void>) | null> {
    return this.advisoryLock(lockKeyText(this.name), "lock the collection");
  }

  /**
   * A batch of shared indexing: its own advisory lock while one writer works on it, then a blob
   * claims/<key> that marks it done for every later writer.
   */
  async claim(key: string): Promise<Claim | null> {
    const done = `claims/${key}`;
    if ((await this.readBlob(done)) !== null) return null;
    const release = await this.advisoryLock(`${lockKeyText(this.name)}:${key}`, "claim a batch");
    if (release === null) return null;
    // done between the look and the lock: the writer that did it has let it go
    if ((await this.readBlob(done)) !== null) {
      await release();
      return null;
    }
    return { done: () => this.writeBlob(done, new Uint8Array(0)), release };
  }

  /** Takes advisory lock `keyText` on a connection of its own; null when someone holds it. */
  private async advisoryLock(keyText: string, what: string): Promise<(() => Promise<void>) | null> {
    const c = new pg.Client({ connectionString: this.url });
    // a dropped connection ends its session, and the server releases the lock with it
    c.on("error", () => {});
    try {
      await c.connect();
      const r = await c.query(LOCK_SQL, [keyText]);
      if (!r.rows[0].taken) {
        await c.end().catch(() => {});
        return null;
      }
    } catch (e) {
      await c.end().catch(() => {});
      throw pgError(e, this.url, this.name, what);
    }
    let held = true;
    return async () => {
      if (!held) return;
      held = false;
      // explicitly: on PGlite closing the connection does not end the (shared) session
      await c.query(UNLOCK_SQL, [keyText]).catch(() => {});
      await c.end().catch(() => {});
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Opening and creating

async function schemaExists(q: pg.Pool | pg.ClientBase, schema: string): Promise<boolean> {
  const r = await q.query(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS e`, [schema]);
  return r.rows[0].e as boolean;
}

/** Whether a schema's comment is a collection name (list() skips what is not xlir's). */
function isCollectionName(name: string): boolean {
  try {
    schemaName(name);
    return true;
  } catch {
    return false;
  }
}

function missing(url: string, name: string): Error {
  return new PgStoreError(`collection "${name}" does not exist in PostgreSQL at ${displayUrl(url)}`);
}

function damaged(url: string, name: string, what: string): Error {
  return new PgStoreError(
    `collection "${name}" (PostgreSQL at ${displayUrl(url)}) is damaged: ${what}; ` +
      `re-index it from the source (or delete it with xlir collections delete ${name})`,
  );
}

async function readMeta(pool: pg.Pool, url: string, name: string): Promise<Map<string, string>> {
  try {
    const r = await pool.query(`SELECT key, value FROM ${tables(name).meta}`);
    return new Map(r.rows.map((x) => [x.key as string, x.value as string]));
  } catch (e) {
    if ((e as { code?: string }).code === "42P01") throw damaged(url, name, "its meta table is missing");
    throw e;
  }
}

async function createCollection(
  pool: pg.Pool,
  url: string,
  name: string,
  dims: number | null,
  distributed: boolean,
  type: VectorType,
): Promise<void> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    let vx = "";
    if (dims !== null) {
      let ext = await vectorExtension(c);
      if (ext === null) {
        try {
          await c.query("CREATE EXTENSION IF NOT EXISTS vector");
        } catch (e) {
          throw new PgStoreError(
            `PostgreSQL at ${displayUrl(url)} cannot enable the pgvector extension ` +
              `(${scrub((e as Error).message, url)}): install pgvector on the server ` +
              `(https://github.com/pgvector/pgvector) and run CREATE EXTENSION vector in the database`,
          );
        }
        ext = (await vectorExtension(c))!;
      }
      if (type === "halfvec" && !atLeast(ext.version, 0, 7)) {
        throw new PgStoreError(
          `PostgreSQL at ${displayUrl(url)} has pgvector ${ext.version.join(".")}: halfvec needs 0.7 or later`,
        );
      }
      vx = ext.schema;
    }
    if (distributed) {
      const r = await c.query(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS e`);
      if (!r.rows[0].e) {
        throw new PgStoreError(
          `PostgreSQL at ${displayUrl(url)} has no citus extension: a distributed collection needs Citus`,
        );
      }
    }
    await c.query("BEGIN");
    try {
      for (const s of createDdl(name, dims, vx, type)) await c.query(s);
      await c.query(
        `INSERT INTO ${tables(name).meta} (key, value) SELECT * FROM unnest($1::text[], $2::text[])`,
        [
          ["format_version", "chunks_version", "dims", "name", "distributed", "vector_type"],
          [String(FORMAT_VERSION), "0", dims === null ? "" : String(dims), name, String(distributed), type],
        ],
      );
      if (distributed) for (const s of distributedDdl(name)) await c.query(s);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch((e2: Error) => (broken = e2));
      // another process created it at the same moment: open theirs
      if ((e as { code?: string }).code === "42P06" && !distributed) return;
      throw e;
    }
  } finally {
    c.release(broken);
  }
}

async function migrate(pool: pg.Pool, url: string, name: string, from: number): Promise<void> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query("BEGIN");
    try {
      for (let v = from; v < FORMAT_VERSION; v++) {
        const step = MIGRATIONS[v];
        if (!step)
          throw damaged(url, name, `its format version ${from} has no migration to ${FORMAT_VERSION}`);
        for (const s of step(name)) await c.query(s);
      }
      await c.query(`UPDATE ${tables(name).meta} SET value = $1 WHERE key = 'format_version'`, [
        String(FORMAT_VERSION),
      ]);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch((e2: Error) => (broken = e2));
      throw e;
    }
  } finally {
    c.release(broken);
  }
}

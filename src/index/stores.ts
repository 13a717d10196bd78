// Which store holds a collection: the embedded one (a folder under the xlir home, lance-store.ts)
// unless a PostgreSQL URL is given (--store postgres://user@host/db, or $XLIR_STORE), then that
// server (pg-store.ts, loaded only then). Everything above this module works on the Store interface.
// Both are imported when a store is opened, not with this module: LanceDB and Apache Arrow take a
// good part of a CLI command's start, and listing or locating collections needs neither.
import { existsSync } from "node:fs";
import { collectionPath, collectionsDir, listCollections } from "./home.ts";
import { MANIFEST_FILE } from "./manifest.ts";
import { displayUrl, type VectorType } from "./pg-sql.ts";
import type { Store } from "./store.ts";

export interface LocateOptions {
  /** The xlir home of embedded collections (default $XLIR_HOME, else ~/.xlir). */
  home?: string;
  /** A postgres:// URL: the collections live in that server (default $XLIR_STORE). */
  store?: string;
  /** PostgreSQL, on create: Citus-distributed tables (the server needs the citus extension). */
  distributed?: boolean;
  /** PostgreSQL: HNSW build parameters (pgvector's defaults: m 16, ef_construction 64). */
  hnsw?: { m?: number; efConstruction?: number };
  /** PostgreSQL, on create: vectors as float32 (vector, default) or float16 (halfvec). */
  vectorType?: VectorType;
}

/** The PostgreSQL URL asked for, or null for the embedded store. */
export function storeUrl(opts: LocateOptions): string | null {
  const url = opts.store ?? process.env.XLIR_STORE;
  if (url === undefined || url === "") return null;
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new Error(
      `--store ${displayUrl(url)}: give a postgres://user@host:port/database URL (or leave it out for the embedded store)`,
    );
  return url;
}

/** Where a collection is, for people: its folder, or the server and collection name. */
export function collectionLocation(name: string, opts: LocateOptions): string {
  const url = storeUrl(opts);
  return url === null ? collectionPath(name, opts.home) : `${displayUrl(url)} (collection ${name})`;
}

const pg = () => import("./pg-store.ts");

export async function collectionExists(name: string, opts: LocateOptions): Promise<boolean> {
  const url = storeUrl(opts);
  if (url === null) return existsSync(`${collectionPath(name, opts.home)}/${MANIFEST_FILE}`);
  const { PgStore } = await pg();
  if (!(await PgStore.exists(url, name))) return false;
  // created and finished: the manifest is written last
  const store = await PgStore.open(url, name, null);
  try {
    return (await store.readBlob(MANIFEST_FILE)) !== null;
  } finally {
    await store.close();
  }
}

/** The store URL (null: embedded), once the PostgreSQL-only options are known to have one. */
export function checkStoreOptions(opts: LocateOptions): string | null {
  const url = storeUrl(opts);
  if (url === null && opts.distributed)
    throw new Error("--distributed distributes PostgreSQL tables with Citus: give --store postgres://...");
  if (url === null && opts.vectorType === "halfvec")
    throw new Error(
      "--vector-type halfvec stores PostgreSQL vectors as float16: give --store postgres://...",
    );
  return url;
}

/** Opens (or creates) the store of collection `name`; `dims` for a dense collection being created. */
export async function openStore(
  name: string,
  opts: LocateOptions,
  dims: number | null,
  create = false,
): Promise<Store> {
  const url = checkStoreOptions(opts);
  if (url === null) {
    const { LanceStore } = await import("./lance-store.ts");
    return LanceStore.open(collectionPath(name, opts.home), dims, create);
  }
  const { PgStore } = await pg();
  return PgStore.open(url, name, dims, create, {
    distributed: opts.distributed,
    hnsw: opts.hnsw,
    vectorType: opts.vectorType,
  });
}

/** Names of the collections there, sorted. */
export async function listStoreCollections(opts: LocateOptions): Promise<string[]> {
  const url = storeUrl(opts);
  if (url === null) return listCollections(opts.home);
  const { PgStore } = await pg();
  return (await PgStore.list(url)).sort();
}

/** Drops a PostgreSQL collection's schema (the caller holds its lock). */
export async function dropStore(name: string, url: string): Promise<void> {
  const { PgStore } = await pg();
  await PgStore.drop(url, name);
}

/** Where "there" is, for the unknown-collection message. */
export function storeWhere(opts: LocateOptions): string {
  const url = storeUrl(opts);
  return url === null ? collectionsDir(opts.home) : displayUrl(url);
}

// `xlir collections check`: everything a collection is made of, verified end to end, as a plain
// report. collection.json must load; both LanceDB tables must open and every file their current
// versions reference must be there and whole, and every row of every column must read; every
// chunk must belong to a live document and every document must have its chunks; in dense
// collections every vector must be usable; bm25.xlir must load and be the one state.json stamps
// for the chunks version now; and a write lock must belong to a live writer. repair.ts fixes what
// the data allows.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BM25_FILE, loadBm25Index } from "./bm25-store.ts";
import { readState, STATE_FILE } from "./bm25-sync.ts";
import { collectionPath, unknownCollection } from "./home.ts";
import { firstDamagedFile } from "./lance-files.ts";
import { LanceStore, type TableName, tableDir } from "./lance-store.ts";
import { alive, LOCK_FILE } from "./lock.ts";
import { type Manifest, manifestPath, readManifest } from "./manifest.ts";
import { int32sOf, stringsOf, vectorsOf } from "./arrow.ts";

export type ProblemKind =
  "manifest" | "table" | "orphan-chunks" | "missing-chunks" | "missing-vectors" | "bm25" | "lock";

export interface Problem {
  kind: ProblemKind;
  /** The damaged file (or folder), absolute. */
  file: string;
  /** What is wrong, one line naming the file. */
  message: string;
  /** What `--repair` does about it, or null when it cannot (then `hint` says what to do). */
  repair: string | null;
  hint?: string;
  /** The chunk or document ids concerned (orphans, documents missing chunks, chunks without vectors). */
  ids?: string[];
}

export interface CheckReport {
  name: string;
  path: string;
  /** Rows read end to end (null when the table could not be read). */
  documents: number | null;
  chunks: number | null;
  problems: Problem[];
}

export interface CheckOptions {
  home?: string;
}

/** What a repair or a later step needs besides the report (kept out of the JSON). */
export interface CheckDetails {
  manifest: Manifest | null;
  docsReadable: boolean;
  chunksReadable: boolean;
}

// What to do when the data needed for a repair is gone.
const REINDEX = (name: string, why = "") =>
  `cannot repair${why}: re-index the collection from the source with xlir index ${name} --input FILE ` +
  `(into a new name, or after xlir collections delete ${name})`;

/** Checks collection NAME; throws only when there is no such collection folder. */
export async function checkCollection(name: string, opts: CheckOptions = {}): Promise<CheckReport> {
  return (await checkWithDetails(name, opts)).report;
}

export async function checkWithDetails(
  name: string,
  opts: CheckOptions = {},
): Promise<{ report: CheckReport; details: CheckDetails }> {
  const dir = collectionPath(name, opts.home);
  if (!existsSync(dir)) throw unknownCollection(name, opts.home);
  const problems: Problem[] = [];
  const report: CheckReport = { name, path: dir, documents: null, chunks: null, problems };
  const details: CheckDetails = { manifest: null, docsReadable: false, chunksReadable: false };

  const lock = lockProblem(dir, name);
  if (lock) problems.push(lock);

  try {
    details.manifest = readManifest(dir);
  } catch (e) {
    problems.push({
      kind: "manifest",
      file: manifestPath(dir),
      message: (e as Error).message.replace(/; restore.*$|: restore.*$/, ""),
      repair: null,
      hint: `${REINDEX(name)}, or restore ${manifestPath(dir)} from a backup`,
    });
  }
  const m = details.manifest;
  const dims = m?.encoder.kind === "dense" ? m.encoder.dims : null;

  let store: LanceStore;
  try {
    store = await LanceStore.open(dir, dims);
  } catch (e) {
    problems.push({
      kind: "table",
      file: fileNamed((e as Error).message, join(dir, "lance")),
      message: (e as Error).message.replace(/; (run|re-index).*$/, ""),
      repair: null,
      hint: REINDEX(name),
    });
    return { report, details };
  }
  try {
    // documents: id -> [hash, recorded chunk count]
    const docs = new Map<string, [string, number]>();
    const docsOk = await readTable(store, "documents", problems, name, (t) => {
      const ids = stringsOf(t, "id");
      const hashes = stringsOf(t, "hash");
      const counts = int32sOf(t, "chunks");
      for (const col of ["title", "lang", "metadata", "text"]) stringsOf(t, col); // read them too
      ids.forEach((id, i) => docs.set(id!, [hashes[i]!, counts[i]]));
    });
    const chunks: { id: string; doc: string; hash: string }[] = [];
    const noVector: string[] = [];
    const chunksOk = await readTable(store, "chunks", problems, name, (t) => {
      const ids = stringsOf(t, "id");
      const docIds = stringsOf(t, "doc_id");
      const hashes = stringsOf(t, "doc_hash");
      for (const col of ["lang", "prefix", "text"]) stringsOf(t, col);
      for (const col of ["chunk", "span_start", "span_end"]) int32sOf(t, col);
      ids.forEach((id, i) => chunks.push({ id: id!, doc: docIds[i]!, hash: hashes[i]! }));
      if (dims !== null) {
        const v = t.getChild("vector");
        const rows = vectorsOf(t, "vector", dims);
        ids.forEach((id, i) => {
          if (v === null || !v.isValid(i) || !usable(rows.subarray(i * dims, (i + 1) * dims)))
            noVector.push(id!);
        });
      }
    });
    details.docsReadable = docsOk;
    details.chunksReadable = chunksOk;
    if (docsOk) report.documents = docs.size;
    if (chunksOk) report.chunks = chunks.length;

    const chunksDir = tableDir(dir, "chunks");
    if (docsOk && chunksOk) {
      const live = new Map<string, number>();
      const orphans: string[] = [];
      for (const c of chunks) {
        if (docs.get(c.doc)?.[0] === c.hash) live.set(c.doc, (live.get(c.doc) ?? 0) + 1);
        else orphans.push(c.id);
      }
      if (orphans.length) {
        problems.push({
          kind: "orphan-chunks",
          file: chunksDir,
          message: `${chunksDir} holds ${orphans.length} chunk(s) of no live document (${sample(orphans)})`,
          repair: "deletes them",
          ids: orphans,
        });
      }
      const short = [...docs].filter(([id, [, n]]) => (live.get(id) ?? 0) < n).map(([id]) => id);
      if (short.length) {
        problems.push({
          kind: "missing-chunks",
          file: chunksDir,
          message: `${short.length} document(s) lack some or all of their chunks in ${chunksDir} (${sample(short)})`,
          repair: "re-chunks (and re-embeds) them from the text stored with each document",
          ids: short,
        });
      }
    }
    if (noVector.length) {
      problems.push({
        kind: "missing-vectors",
        file: chunksDir,
        message: `${noVector.length} chunk(s) in ${chunksDir} have no usable vector (${sample(noVector)})`,
        repair: "embeds their stored text again with the collection's encoder",
        ids: noVector,
      });
    }
    if (m !== null && chunksOk) {
      const p = await bm25Problem(store, dir, await store.chunksVersion(), new Set(chunks.map((c) => c.id)));
      if (p) problems.push(p);
    }
  } finally {
    await store.close();
  }
  return { report, details };
}

/** Scans a table end to end; a failure becomes a problem naming the damaged file. */
async function readTable(
  store: LanceStore,
  table: TableName,
  problems: Problem[],
  name: string,
  each: Parameters<LanceStore["scan"]>[2],
): Promise<boolean> {
  const hint = table === "documents" ? REINDEX(name, " (the documents' text was in it)") : REINDEX(name);
  const t = table === "documents" ? store.docs : store.chunks;
  const version = await t.version().catch(() => null);
  const bad = version === null ? null : firstDamagedFile(tableDir(store.dir, table), version);
  if (bad !== null) {
    problems.push({
      kind: "table",
      file: fileNamed(bad, tableDir(store.dir, table)),
      message: bad,
      repair: null,
      hint,
    });
    return false;
  }
  try {
    await store.scan(table, null, each);
    return true;
  } catch (e) {
    problems.push({
      kind: "table",
      file: fileNamed((e as Error).message, tableDir(store.dir, table)),
      message: (e as Error).message.replace(/; run xlir collections check.*$/, ""),
      repair: null,
      hint,
    });
    return false;
  }
}

async function bm25Problem(
  store: LanceStore,
  dir: string,
  version: number,
  chunkIds: Set<string>,
): Promise<Problem | null> {
  const file = join(dir, BM25_FILE);
  const repair = "rebuilds it from the chunks' stored text and saves it";
  if (!existsSync(file)) {
    return { kind: "bm25", file, message: `${file} is missing (searches rebuild it every time)`, repair };
  }
  let ids: string[];
  try {
    ids = [...loadBm25Index(dir).byId.keys()];
  } catch (e) {
    return { kind: "bm25", file, message: (e as Error).message.replace(/: rebuild it.*$/, ""), repair };
  }
  const state = await readState(store);
  if (state === null || state.bm25ChunksVersion !== version) {
    const stamp =
      state === null
        ? `${join(dir, STATE_FILE)} is missing or unreadable`
        : `saved at chunks version ${state.bm25ChunksVersion}`;
    return {
      kind: "bm25",
      file,
      message: `${file} is out of date (${stamp}; the chunks table is at version ${version})`,
      repair,
    };
  }
  const same = ids.length === chunkIds.size && ids.every((id) => chunkIds.has(id));
  if (!same) {
    return {
      kind: "bm25",
      file,
      message: `${file} indexes ${ids.length} chunks, not the ${chunkIds.size} of the chunks table`,
      repair,
    };
  }
  return null;
}

/** A write lock whose process is gone (stale) or alive (a writer is at work). */
function lockProblem(dir: string, name: string): Problem | null {
  const file = join(dir, LOCK_FILE);
  if (!existsSync(file)) return null;
  let pid = NaN;
  try {
    pid = Number(readFileSync(file, "utf8").trim());
  } catch {
    // unreadable: stale as far as we can tell
  }
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
    return {
      kind: "lock",
      file,
      message: `collection "${name}" is being written by process ${pid} (${file})`,
      repair: null,
      hint: "check again when that writer has finished (if it is not xlir, delete the file)",
    };
  }
  return {
    kind: "lock",
    file,
    message: `${file} is a stale write lock (process ${Number.isNaN(pid) ? "?" : pid} is gone)`,
    repair: "removes it",
  };
}

// A vector search can use: finite, and not all zeros (a zero row cannot be normalised and scores 0).
function usable(v: Float32Array): boolean {
  let any = false;
  for (const x of v) {
    if (!Number.isFinite(x)) return false;
    if (x !== 0) any = true;
  }
  return any;
}

/** The file a damage message names ("... FILE is missing ..."), else `fallback`. */
function fileNamed(message: string, fallback: string): string {
  return /(\/[^\s()]+) is (missing|truncated)/.exec(message)?.[1] ?? fallback;
}

function sample(ids: readonly string[], n = 3): string {
  return ids.slice(0, n).join(", ") + (ids.length > n ? `, ... ${ids.length - n} more` : "");
}

/** One line per problem, as `xlir collections check` prints them. */
export function formatProblem(p: Problem): string {
  return p.repair ? `${p.message}: --repair ${p.repair}` : `${p.message}: ${p.hint ?? "cannot repair"}`;
}

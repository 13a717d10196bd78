// A BEIR dataset folder: corpus.jsonl ({"_id", "title", "text"}), queries.jsonl ({"_id", "text"})
// and qrels/<split>.tsv ("query-id corpus-id score" with a header), each JSONL also read gzipped
// (corpus.jsonl.gz, as the hub copies ship). Streamed line by line because real corpora outgrow a
// single string (MS MARCO's corpus.jsonl is ~3 GB), hence async where the other loaders are not.
// A hub dataset id (org/name, e.g. a Hindi-BEIR upload) stands for a folder too: its BEIR files are
// downloaded into the Hugging Face cache once and read from there.
import { createReadStream, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { resolveDataset, type ResolveOptions } from "../../weights/hub.ts";
import type { Doc, Qrels, Query, RetrievalTask } from "./task.ts";

export interface BeirOptions {
  /** Qrels split: reads qrels/<split>.tsv. Default "test". */
  split?: string;
  /** A qrels file to read instead of qrels/<split>.tsv (e.g. from a separate qrels repo). */
  qrels?: string;
  /** Language stamped on every doc and query (e.g. "hin_Deva" for Hindi-BEIR). */
  lang?: string;
  /** Hub settings (cache, endpoint, token, offline, revision) when `dir` is a hub dataset id. */
  hub?: ResolveOptions;
}

/** What a BEIR folder on the hub needs; JSONL plain or gzipped, every qrels split. */
export const BEIR_HUB_FILES: readonly string[] = [
  "corpus.jsonl|corpus.jsonl.gz",
  "queries.jsonl|queries.jsonl.gz",
  "qrels/*.tsv",
];

/** `org/name` or `org/name@revision`: read as a hub dataset when no such folder exists. */
export const isHubDatasetId = (s: string) => /^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(s);

/**
 * `dirOrId` when it exists (or is no hub id, so the caller's "no such folder" error stands), else
 * the cache snapshot of the hub dataset it names, downloaded on first use.
 */
export async function resolveBeirFolder(dirOrId: string, hub: ResolveOptions = {}): Promise<string> {
  if (existsSync(dirOrId) || !isHubDatasetId(dirOrId)) return dirOrId;
  try {
    return await resolveDataset(dirOrId, { ...hub, files: BEIR_HUB_FILES });
  } catch (e) {
    throw new Error(`${dirOrId}: no such folder, and as a hub dataset: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The splits a folder has judgments for: the stems of qrels/*.tsv, sorted. */
export function listBeirSplits(dir: string): string[] {
  const q = join(dir, "qrels");
  return existsSync(q)
    ? readdirSync(q)
        .filter((f) => f.endsWith(".tsv"))
        .map((f) => f.slice(0, -4))
        .sort()
    : [];
}

/**
 * Loads a BEIR folder as a task. As BEIR's GenericDataLoader does, the queries are those the split
 * judges (in queries.jsonl order); unlike it, duplicate ids and malformed lines are errors.
 */
export async function loadBeir(dirOrId: string, opts: BeirOptions = {}): Promise<RetrievalTask> {
  const dir = await resolveBeirFolder(dirOrId, opts.hub);
  if (!existsSync(dir))
    throw new Error(
      `${dir}: no such folder; pass a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)`,
    );
  const split = opts.split ?? "test";
  const qrelsFile = opts.qrels ?? join(dir, "qrels", `${split}.tsv`);
  if (!existsSync(qrelsFile)) {
    const splits = listBeirSplits(dir);
    throw new Error(
      `${qrelsFile}: no such qrels file; ${splits.length ? `splits there: ${splits.join(", ")}` : "is this a BEIR folder?"}`,
    );
  }
  const lang = opts.lang === undefined ? {} : { lang: opts.lang };
  const qrels = await readBeirQrels(qrelsFile);

  const corpus: Doc[] = [];
  await readRecords(jsonlFile(dir, "corpus"), (r, at) => {
    const title = r.title;
    if (title !== undefined && title !== null && typeof title !== "string") {
      throw new Error(`${at}: "title" is not a string`);
    }
    corpus.push({ id: r.id, text: r.text, ...(title ? { title } : {}), ...lang });
  });

  const queries: Query[] = [];
  await readRecords(jsonlFile(dir, "queries"), (r) => {
    if (qrels.has(r.id)) queries.push({ id: r.id, text: r.text, ...lang });
  });
  if (queries.length < qrels.size) {
    const known = new Set(queries.map((q) => q.id));
    const missing = [...qrels.keys()].find((q) => !known.has(q))!;
    throw new Error(
      `${qrelsFile}: query "${missing}" is judged but not in queries.jsonl; the files do not belong together`,
    );
  }
  return { corpus, queries, qrels };
}

/**
 * A BEIR qrels TSV: `query-id<TAB>corpus-id<TAB>score` per line, integer scores, a header line
 * recognised by its first field (BEIR's own loader drops line 1 blindly, losing a judgment when
 * a file has no header).
 */
export async function readBeirQrels(file: string): Promise<Qrels> {
  const qrels: Qrels = new Map();
  await eachLine(file, (line, n) => {
    if (line.trim() === "") return;
    const f = line.split("\t");
    if (n === 1 && f[0] === "query-id") return;
    if (f.length !== 3 || f[0] === "" || f[1] === "") {
      throw new Error(
        `${file}:${n}: expected "query-id<TAB>corpus-id<TAB>score", got ${JSON.stringify(line)}`,
      );
    }
    const score = Number(f[2]);
    if (f[2].trim() === "" || !Number.isInteger(score)) {
      throw new Error(`${file}:${n}: score ${JSON.stringify(f[2])} is not an integer; fix the line`);
    }
    const judged = qrels.get(f[0]) ?? new Map<string, number>();
    qrels.set(f[0], judged.set(f[1], score));
  });
  return qrels;
}

interface BeirRecord {
  id: string;
  text: string;
  title?: unknown;
}

/** Calls `each` with every record of a JSONL file; `at` is "file:line" for the caller's errors. */
async function readRecords(file: string, each: (r: BeirRecord, at: string) => void): Promise<void> {
  const lineOf = new Map<string, number>();
  await eachLine(file, (line, n) => {
    if (line.trim() === "") return;
    const at = `${file}:${n}`;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new Error(`${at}: invalid JSON (${(e as Error).message}); fix or remove the line`, { cause: e });
    }
    if (typeof r !== "object" || r === null || Array.isArray(r))
      throw new Error(`${at}: expected a JSON object`);
    const { _id, text, title } = r as Record<string, unknown>;
    // Some exports write numeric ids; they are the same ids as the qrels' strings.
    if (typeof _id !== "string" && typeof _id !== "number") throw new Error(`${at}: no string "_id"`);
    if (typeof text !== "string") throw new Error(`${at}: no string "text"`);
    const id = String(_id);
    const first = lineOf.get(id);
    if (first !== undefined)
      throw new Error(`${at}: "_id" ${JSON.stringify(id)} already used on line ${first}`);
    lineOf.set(id, n);
    each({ id, text, title }, at);
  });
}

/** <dir>/<name>.jsonl, else its gzipped copy. */
function jsonlFile(dir: string, name: string): string {
  const plain = join(dir, `${name}.jsonl`);
  if (existsSync(plain) || !existsSync(`${plain}.gz`)) return plain;
  return `${plain}.gz`;
}

/** Streams a (possibly .gz) UTF-8 file line by line, 1-based line numbers; a BOM is dropped. */
export async function eachLine(file: string, each: (line: string, n: number) => void): Promise<void> {
  if (!existsSync(file))
    throw new Error(`${file}: no such file; a BEIR folder has corpus.jsonl, queries.jsonl, qrels/`);
  let input: Readable = createReadStream(file);
  if (file.endsWith(".gz")) input = input.pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      each(n === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw, n);
    }
  } catch (e) {
    const msg = (e as Error).message;
    throw msg.startsWith(file) ? e : new Error(`${file}:${n + 1}: cannot read (${msg})`, { cause: e });
  } finally {
    lines.close();
    input.destroy();
  }
}

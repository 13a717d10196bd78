// Topic files for batch search (`xlir search NAME --topics FILE --run OUT.trec`), as Pyserini's
// `search --topics ... --output run.txt` takes them:
//   TSV    qid<TAB>query text                          (MS MARCO queries.tsv, Pyserini's .tsv topics)
//   JSONL  {"_id"|"id"|"qid"|"query_id": ..., "text"|"query"|"title": ..., "lang"?: ...}  (BEIR queries.jsonl)
// A topic may carry its own language ("lang"); others take the command's --lang.
//
// The run is written as it goes to OUT.partial, one query's lines in one write, so a crash loses at
// most the query in flight; the same command resumes after the queries already there, and the
// file becomes OUT only when every topic is done.
import { appendFileSync, existsSync, readFileSync, renameSync, truncateSync } from "node:fs";
import { extname } from "node:path";

export interface Topic {
  id: string;
  text: string;
  lang?: string;
  /** "file:line", for errors. */
  source: string;
}

const ID_FIELDS = ["_id", "id", "qid", "query_id"];
const TEXT_FIELDS = ["text", "query", "title"];

/** Reads a topics file (format from the extension: .tsv/.txt, or .jsonl/.json/.ndjson). */
export function readTopics(path: string): Topic[] {
  if (!existsSync(path)) throw new Error(`topics file ${path} does not exist: check the --topics path`);
  const ext = extname(path).toLowerCase();
  const jsonl = [".jsonl", ".json", ".ndjson"].includes(ext);
  if (!jsonl && ext !== ".tsv" && ext !== ".txt")
    throw new Error(`topics file ${path}: give a .tsv (qid<TAB>query) or .jsonl (BEIR queries) file`);
  const topics: Topic[] = [];
  const seen = new Set<string>();
  const lines = readFileSync(path, "utf8")
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const source = `${path}:${i + 1}`;
    const t = jsonl ? jsonTopic(line, source) : tsvTopic(line, source);
    if (seen.has(t.id))
      throw new Error(`${source}: topic id "${t.id}" appears twice: give each query its own id`);
    seen.add(t.id);
    topics.push(t);
  });
  if (topics.length === 0) throw new Error(`topics file ${path} holds no topics`);
  return topics;
}

function tsvTopic(line: string, source: string): Topic {
  const tab = line.indexOf("\t");
  const id = tab < 0 ? "" : line.slice(0, tab).trim();
  const text = tab < 0 ? "" : line.slice(tab + 1).trim();
  if (!id || !text) throw new Error(`${source}: write qid<TAB>query text`);
  if (/\s/.test(id))
    throw new Error(`${source}: topic id "${id}" has white space, which a TREC run cannot hold`);
  return { id, text, source };
}

function jsonTopic(line: string, source: string): Topic {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw new Error(`${source}: not valid JSON: each line must be one JSON object`);
  }
  if (typeof o !== "object" || o === null || Array.isArray(o))
    throw new Error(`${source}: not a JSON object`);
  const r = o as Record<string, unknown>;
  const idKey = ID_FIELDS.find((k) => r[k] !== undefined);
  const textKey = TEXT_FIELDS.find((k) => typeof r[k] === "string" && (r[k] as string).trim() !== "");
  if (!idKey) throw new Error(`${source}: no query id: give one of ${ID_FIELDS.join(", ")}`);
  if (!textKey) throw new Error(`${source}: no query text: give one of ${TEXT_FIELDS.join(", ")}`);
  const id = String(r[idKey]);
  if (/\s/.test(id) || id === "")
    throw new Error(`${source}: topic id ${JSON.stringify(id)} is empty or has white space`);
  const lang = typeof r.lang === "string" ? r.lang : undefined;
  return { id, text: (r[textKey] as string).trim(), lang, source };
}

export interface RunHit {
  id: string;
  score: number;
}

/** Where a topics run stands: the partial file, and the queries already in it. */
export function resumeRun(out: string): { partial: string; done: Set<string> } {
  const partial = `${out}.partial`;
  const done = new Set<string>();
  if (existsSync(partial)) {
    const text = readFileSync(partial, "utf8");
    // only whole lines count (a query is written in one write, so its lines are all there or
    // none); a torn last line is cut off so the next query's lines start on a line of their own
    const whole = Buffer.byteLength(text.slice(0, text.lastIndexOf("\n") + 1));
    truncateSync(partial, whole);
    for (const line of text.slice(0, text.lastIndexOf("\n") + 1).split("\n"))
      if (line) done.add(line.slice(0, line.indexOf(" ")));
  }
  return { partial, done };
}

/** One query's TREC run lines (ranks 1..n in the order given). */
export function runLines(qid: string, hits: readonly RunHit[], tag: string): string {
  for (const h of hits)
    if (/\s/.test(h.id))
      throw new Error(`document id ${JSON.stringify(h.id)} has white space, which a TREC run cannot hold`);
  return hits.map((h, i) => `${qid} Q0 ${h.id} ${i + 1} ${h.score} ${tag}\n`).join("");
}

/** Appends one query's lines to the partial run (one write, so a crash leaves all or none). */
export function appendRun(partial: string, lines: string): void {
  if (lines) appendFileSync(partial, lines);
}

/** The finished run: the partial file takes its final name. */
export function finishRun(partial: string, out: string): void {
  if (!existsSync(partial)) appendFileSync(partial, "");
  renameSync(partial, out);
}

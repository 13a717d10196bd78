// What TREC run and qrels files share: whitespace-separated lines, and whole-file writes.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

/** C's isspace in the "C" locale, which is what trec_eval splits fields on. */
const SPACE = /[ \t\n\v\f\r]+/;

export interface Line {
  /** 1-based line number in the file, for error messages. */
  number: number;
  /** The line as written (without its "\r\n" or "\n"). */
  text: string;
  fields: string[];
}

/** The content lines of a file: blank lines and '#' comment lines skipped (trec_eval skips both in
 *  runs and comments in qrels; xlir also forgives blank lines in qrels). */
export function* contentLines(text: string): Generator<Line> {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i].split(SPACE); // one pass; leading/trailing space leaves "" at the ends
    if (fields[0] === "") fields.shift();
    if (fields.length && fields[fields.length - 1] === "") fields.pop();
    if (fields.length === 0 || fields[0].startsWith("#")) continue;
    const line = lines[i];
    yield { number: i + 1, text: line.endsWith("\r") ? line.slice(0, -1) : line, fields };
  }
}

/** table[qid][doc] = value, once: a second value for the same query and document throws `duplicate()`. */
export function setOnce<T>(
  table: Map<string, Map<string, T>>,
  qid: string,
  doc: string,
  value: T,
  duplicate: () => string,
): void {
  let docs = table.get(qid);
  if (!docs) table.set(qid, (docs = new Map()));
  if (docs.has(doc)) throw new Error(duplicate());
  docs.set(doc, value);
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read ${what} file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Ids are written space-separated, so one holding whitespace would corrupt the file. */
export function checkId(id: string, what: string): string {
  if (id === "" || /[ \t\n\v\f\r]/.test(id))
    throw new Error(
      `${what} '${id}' is empty or contains whitespace, which a TREC file cannot hold; rename it`,
    );
  return id;
}

/** Write through a temporary file and a rename, so a failed write never leaves half a file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

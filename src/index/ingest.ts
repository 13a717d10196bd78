// Documents in: JSONL (id/text/title/lang/metadata, also BEIR's corpus.jsonl with _id), TSV
// (id<TAB>text[<TAB>title]) or a folder of .txt/.md files, read as a stream so a corpus need not
// fit in memory. Each document carries its source ("file:line") for error messages; a bad line
// stops the stream there with a one-line error naming the file and line, after the documents
// before it were handed on (and committed, by the indexer).
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join, relative, sep } from "node:path";
import { createInterface } from "node:readline";

export interface InputDoc {
  id: string;
  text: string;
  title?: string;
  /** The language as the input gives it (any code resolveNllbLang accepts), or none. */
  lang?: string;
  metadata?: Record<string, unknown>;
  /** "file:line" or the file's path: where the document came from, for errors. */
  source: string;
}

export type InputFormat = "jsonl" | "beir" | "tsv" | "folder";
export const INPUT_FORMATS: readonly InputFormat[] = ["jsonl", "beir", "tsv", "folder"];

/** The format a path's kind and extension say; "-" (standard input) reads JSONL. */
export function detectFormat(path: string): InputFormat {
  if (path === "-") return "jsonl";
  if (!existsSync(path)) throw new Error(`input ${path} does not exist: check the --input path`);
  if (statSync(path).isDirectory()) return "folder";
  const ext = extname(path).toLowerCase();
  if (ext === ".tsv") return "tsv";
  if (ext === ".jsonl" || ext === ".json" || ext === ".ndjson") return "jsonl";
  throw new Error(
    `cannot tell the format of ${path} from its extension: give --format jsonl, beir, tsv or folder`,
  );
}

export interface ReadOptions {
  /** Skip documents whose text is empty instead of stopping with an error. */
  skipEmpty?: boolean;
}

/** The documents of `path` in order. */
export async function* readDocuments(
  path: string,
  format: InputFormat = detectFormat(path),
  opts: ReadOptions = {},
): AsyncGenerator<InputDoc> {
  const docs =
    format === "folder" ? folderDocs(path) : format === "tsv" ? tsvDocs(path) : jsonlDocs(path, format);
  for await (const doc of docs) {
    if (doc.text.trim() === "") {
      if (opts.skipEmpty) continue;
      throw new Error(
        `${doc.source}: document "${doc.id}" has empty text: give it text, drop it, or pass --skip-empty`,
      );
    }
    yield doc;
  }
}

/** How many documents `path` holds, cheaply (lines or files), for a progress bar's total. */
export async function countDocuments(
  path: string,
  format: InputFormat = detectFormat(path),
): Promise<number> {
  if (path === "-") return 0;
  if (format === "folder") return textFiles(path).length;
  let n = 0;
  for await (const { line, no } of lines(path))
    if (line.trim() !== "" && !(format === "tsv" && no === 1 && isTsvHeader(line))) n++;
  return n;
}

async function* lines(path: string): AsyncGenerator<{ line: string; no: number }> {
  const input = path === "-" ? process.stdin : createReadStream(path, { encoding: "utf8" });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let no = 0;
  try {
    for await (const line of rl) yield { line: no === 0 ? line.replace(/^\uFEFF/, "") : line, no: ++no };
  } catch (e) {
    throw new Error(
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check the --input path`,
      { cause: e },
    );
  } finally {
    rl.close();
  }
}

const RESERVED = new Set(["id", "_id", "text", "title", "lang", "metadata"]);

async function* jsonlDocs(path: string, format: "jsonl" | "beir"): AsyncGenerator<InputDoc> {
  const name = path === "-" ? "standard input" : path;
  for await (const { line, no } of lines(path)) {
    if (line.trim() === "") continue;
    const at = `${name}:${no}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${at}: not valid JSON (${(e as Error).message}); each line must be one JSON object`, {
        cause: e,
      });
    }
    yield jsonDoc(obj, at, format);
  }
}

function isTsvHeader(line: string): boolean {
  return /^(_?id|docid|pid)\t(text|contents|passage)\b/i.test(line);
}

async function* tsvDocs(path: string): AsyncGenerator<InputDoc> {
  for await (const { line, no } of lines(path)) {
    if (line.trim() === "" || (no === 1 && isTsvHeader(line))) continue;
    const at = `${path}:${no}`;
    const cols = line.split("\t");
    if (cols.length < 2 || cols.length > 3 || cols[0] === "") {
      throw new Error(
        `${at}: expected "id<TAB>text" or "id<TAB>text<TAB>title", found ${cols.length} column(s)`,
      );
    }
    yield { id: cols[0], text: cols[1], title: cols[2] || undefined, metadata: {}, source: at };
  }
}

const TEXT_EXTENSIONS = new Set([".txt", ".md"]);

/** The .txt/.md files under `dir` (hidden ones skipped), in sorted path order. */
function textFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith(".")) continue;
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch (e) {
        // a dangling symbolic link, or a file removed while we walk: refuse before anything is written
        throw new Error(
          `${p} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}: a broken link?): fix or remove it, then rerun`,
          { cause: e },
        );
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && TEXT_EXTENSIONS.has(extname(name).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

async function* folderDocs(dir: string): AsyncGenerator<InputDoc> {
  const files = textFiles(dir);
  if (files.length === 0)
    throw new Error(`${dir} holds no .txt or .md files: point --input at a folder of them`);
  for (const file of files) {
    const text = readFileSync(file, "utf8").replace(/^\uFEFF/, "");
    const heading =
      extname(file).toLowerCase() === ".md" ? /^#\s+(.+?)\s*#*\s*$/m.exec(text)?.[1] : undefined;
    yield {
      id: relative(dir, file).split(sep).join("/"),
      text,
      title: heading ?? basename(file, extname(file)),
      metadata: {},
      source: file,
    };
  }
}

/**
 * One parsed JSON object as a document, checked as a JSONL line is (`at` names it in errors: a
 * "file:line", or a request's "documents[3]"). BEIR objects take their id from "_id" only.
 */
export function jsonDoc(obj: unknown, at: string, format: "jsonl" | "beir" = "jsonl"): InputDoc {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new Error(`${at}: not a JSON object; each document must be one object with an id and a text`);
  }
  const o = obj as Record<string, unknown>;
  const rawId = format === "beir" ? o._id : (o.id ?? o._id);
  if (
    !(typeof rawId === "string" && rawId !== "") &&
    !(typeof rawId === "number" && Number.isFinite(rawId))
  ) {
    const field = format === "beir" ? `"_id"` : `"id" (or "_id")`;
    throw new Error(`${at}: no ${field} field (a non-empty string or a number); every document needs an id`);
  }
  if (typeof o.text !== "string") {
    throw new Error(
      `${at}: document "${rawId}" has no string field "text"; every document needs its text there`,
    );
  }
  for (const key of ["title", "lang"] as const) {
    if (o[key] !== undefined && o[key] !== null && typeof o[key] !== "string") {
      throw new Error(
        `${at}: "${key}" of document "${rawId}" must be a string, got ${JSON.stringify(o[key])}`,
      );
    }
  }
  if (
    o.metadata !== undefined &&
    (typeof o.metadata !== "object" || o.metadata === null || Array.isArray(o.metadata))
  ) {
    throw new Error(`${at}: "metadata" of document "${rawId}" must be a JSON object`);
  }
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!RESERVED.has(k)) metadata[k] = v;
  Object.assign(metadata, o.metadata as Record<string, unknown> | undefined);
  return {
    id: String(rawId),
    text: o.text,
    title: (o.title as string | null) || undefined,
    lang: (o.lang as string | null) || undefined,
    metadata,
    source: at,
  };
}

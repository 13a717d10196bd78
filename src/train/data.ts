// Training texts for distillation, from the shapes people have on disk:
//  - .txt: one sentence per line; roles alternate query / passage by line so both E5 prefixes
//    are distilled;
//  - .tsv: every non-empty column is a text; column 0 is a query, the others passages
//    (sentence-transformers pairs and triplets);
//  - .jsonl: every string field (and every string in a list field) is a text, except id-like
//    metadata; fields named query / anchor / question are queries, the rest passages.
// The whole file is read (distillation sets are a few hundred thousand sentences); errors name
// the file and line.

import { readFileSync } from "node:fs";
import { extname } from "node:path";

export type Role = "query" | "passage";

export interface TrainingText {
  text: string;
  role: Role;
}

const QUERY_FIELDS = new Set(["query", "anchor", "question", "q"]);
const METADATA_FIELDS = new Set([
  "id",
  "_id",
  "lang",
  "language",
  "label",
  "labels",
  "score",
  "idx",
  "index",
  "source",
]);

/** The lines of a training file (BOM and final newline dropped); `what` names it in errors. */
export function readLines(path: string, what = "training data"): string[] {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a folder, not a file" : code;
    throw new Error(`${what} ${path}: ${why}; check --data`, { cause: e });
  }
  const lines = raw.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

function fromJsonl(path: string, lines: string[]): TrainingText[] {
  return lines.flatMap((line, i) => {
    if (!line.trim()) return [];
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not valid JSON; each line must be one JSON object`, { cause: e });
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj))
      throw new Error(`${path}:${i + 1}: expected a JSON object with text fields`);
    const out: TrainingText[] = [];
    for (const [k, v] of Object.entries(obj)) {
      if (METADATA_FIELDS.has(k.toLowerCase())) continue;
      const role: Role = QUERY_FIELDS.has(k.toLowerCase()) ? "query" : "passage";
      for (const t of Array.isArray(v) ? v : [v])
        if (typeof t === "string" && t.trim()) out.push({ text: t, role });
    }
    if (!out.length)
      throw new Error(`${path}:${i + 1}: no text column (string fields other than ids and labels)`);
    return out;
  });
}

export function readTrainingTexts(paths: readonly string[]): TrainingText[] {
  const all: TrainingText[] = [];
  for (const path of paths) {
    const lines = readLines(path);
    const ext = extname(path).toLowerCase();
    let texts: TrainingText[];
    if (ext === ".jsonl" || ext === ".json") texts = fromJsonl(path, lines);
    else if (ext === ".tsv")
      texts = lines.flatMap((line) =>
        line
          .split("\t")
          .flatMap((t, c) => (t.trim() ? [{ text: t, role: (c === 0 ? "query" : "passage") as Role }] : [])),
      );
    else
      texts = lines.filter((l) => l.trim()).map((text, i) => ({ text, role: i % 2 ? "passage" : "query" }));
    if (!texts.length)
      throw new Error(`training data ${path} holds no text; give a .txt, .tsv or .jsonl file with sentences`);
    all.push(...texts);
  }
  return all;
}

// TREC run files: `qid Q0 docid rank score tag`, one retrieved document a line.
import { rankDocs } from "./ranking.ts";
import { checkId, contentLines, readText, setOnce, writeAtomic } from "./trec-lines.ts";

/** query id -> document id -> score. The order of the documents is the scores' (see ranking.ts). */
export type Run = Map<string, Map<string, number>>;

export interface RunFile {
  run: Run;
  /** The tag of the last line, the one trec_eval's runid reports ("" for an empty file). */
  tag: string;
  /** With `keepDuplicates`: per query, the lines that repeat a document already read (document,
   *  score), which `run` cannot hold; evaluate() ranks them as trec_eval does. */
  duplicates: Map<string, [string, number][]>;
}

export interface RunReadOptions {
  /** BEIR's convention (ignore_identical_ids): drop a document whose id equals the query id, e.g.
   *  on ArguAna or Quora where every query is also in the corpus. */
  dropIdenticalIds?: boolean;
  /** Keep a repeated document aside in `duplicates` instead of refusing it: trec_eval refuses one
   *  only when both copies fall within the ranking it evaluates (`xlir eval trec` takes this). */
  keepDuplicates?: boolean;
}

/**
 * Parse a run as trec_eval does: whitespace-separated fields, at least six (more are ignored), the
 * iter and rank columns ignored (ranks come from the scores), '#' and blank lines skipped. Errors
 * name `source`:line: fewer than six fields, a score that is not a number, and (unless
 * keepDuplicates) a document listed twice for a query.
 */
export function parseRun(text: string, source = "run", opts: RunReadOptions = {}): RunFile {
  const run: Run = new Map();
  const duplicates = new Map<string, [string, number][]>();
  let tag = "";
  for (const { number, fields } of contentLines(text)) {
    const at = `${source}:${number}`;
    if (fields.length < 6)
      throw new Error(`${at}: expected 6 fields 'qid Q0 docid rank score tag', found ${fields.length}`);
    const [qid, , doc, , scoreText, lineTag] = fields;
    const score = Number(scoreText);
    if (Number.isNaN(score))
      throw new Error(`${at}: score '${scoreText}' is not a number; the 5th field must be the score`);
    tag = lineTag;
    if (opts.dropIdenticalIds && doc === qid) continue;
    if (opts.keepDuplicates && run.get(qid)?.has(doc)) {
      const extra = duplicates.get(qid) ?? [];
      extra.push([doc, score]);
      duplicates.set(qid, extra);
      continue;
    }
    setOnce(
      run,
      qid,
      doc,
      score,
      () =>
        `${at}: document '${doc}' is listed twice for query '${qid}'; keep one line per query and document`,
    );
  }
  return { run, tag, duplicates };
}

export function readRun(path: string, opts: RunReadOptions = {}): RunFile {
  return parseRun(readText(path, "run"), path, opts);
}

/** A copy of the run without documents whose id equals their query id (BEIR's ignore_identical_ids);
 *  a query left with no document is left out, as it would be when read with dropIdenticalIds. */
export function dropIdenticalIds(run: Run): Run {
  const out: Run = new Map();
  for (const [qid, docs] of run) {
    const kept = new Map([...docs].filter(([doc]) => doc !== qid));
    if (kept.size) out.set(qid, kept);
  }
  return out;
}

/**
 * The run as TREC text: queries in the map's order, documents in trec_eval's rank order with ranks
 * 1..n, at most `depth` per query. Scores are written in the shortest form that reads back to the
 * same float64, so a written run evaluates exactly like the one in memory.
 */
export function formatRun(run: Run, tag = "xlir", depth = Infinity): string {
  checkId(tag, "run tag");
  const lines: string[] = [];
  for (const [qid, docs] of run) {
    checkId(qid, "query id");
    const ranked = rankDocs(docs);
    const n = Math.min(depth, ranked.length);
    for (let i = 0; i < n; i++)
      lines.push(`${qid} Q0 ${checkId(ranked[i], "document id")} ${i + 1} ${docs.get(ranked[i])} ${tag}\n`);
  }
  return lines.join("");
}

export function writeRun(path: string, run: Run, tag = "xlir", depth = Infinity): void {
  writeAtomic(path, formatRun(run, tag, depth));
}

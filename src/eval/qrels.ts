// Relevance judgments: TREC qrels (`qid 0 docid rel`) and BEIR's qrels TSV (`query-id corpus-id
// score` header, tab-separated), read into the same plain map.
import { checkId, contentLines, readText, setOnce, writeAtomic, type Line } from "./trec-lines.ts";

/** query id -> document id -> relevance (an integer; 0 = judged non-relevant, < 0 = in the pool but
 *  unjudged, as trec_eval reads it). */
export type Qrels = Map<string, Map<string, number>>;

export type QrelsFormat = "trec" | "beir";

/** Large enough for any graded scale; bounded because trec_eval sizes arrays by the largest value. */
const MAX_REL = 1_000_000;
const BEIR_HEADER = ["query-id", "corpus-id", "score"];

/**
 * Parse qrels. BEIR's TSV is recognised by its header line; anything else must be TREC qrels with
 * exactly four whitespace-separated fields (trec_eval rejects a line with more or fewer). Errors name
 * `source`:line: a wrong field count, a relevance that is not a whole number, and a document judged
 * twice for a query (trec_eval stops on that too: "duplicate docs").
 */
export function parseQrels(text: string, source = "qrels"): Qrels {
  const qrels: Qrels = new Map();
  let format: QrelsFormat | undefined;
  for (const line of contentLines(text)) {
    const at = `${source}:${line.number}`;
    if (format === undefined) {
      format = line.fields.join(" ") === BEIR_HEADER.join(" ") ? "beir" : "trec";
      if (format === "beir") continue;
    }
    const [qid, doc, relText] = format === "beir" ? beirFields(line, at) : trecFields(line, at);
    if (!/^[+-]?\d+$/.test(relText))
      throw new Error(
        `${at}: relevance '${relText}' is not a whole number; judgments are integers like 0, 1, 2`,
      );
    const rel = parseInt(relText, 10);
    if (Math.abs(rel) > MAX_REL)
      throw new Error(`${at}: relevance ${rel} is out of range (at most ${MAX_REL})`);
    setOnce(
      qrels,
      qid,
      doc,
      rel,
      () =>
        `${at}: document '${doc}' is judged twice for query '${qid}'; keep one judgment per query and document`,
    );
  }
  return qrels;
}

function trecFields(line: Line, at: string): [string, string, string] {
  const f = line.fields;
  if (f.length !== 4) {
    const hint =
      f.length === 3 ? "; a BEIR TSV needs its header line 'query-id<TAB>corpus-id<TAB>score'" : "";
    throw new Error(`${at}: expected 4 fields 'qid iter docid rel', found ${f.length}${hint}`);
  }
  return [f[0], f[2], f[3]];
}

/** BEIR splits on tabs only (csv.reader with delimiter \t), so an id may hold a space; a file
 *  without tabs is read as space-separated. */
function beirFields(line: Line, at: string): [string, string, string] {
  const f = line.text.includes("\t") ? line.text.split("\t") : line.fields;
  if (f.length !== 3 || f[0] === "" || f[1] === "")
    throw new Error(`${at}: expected 3 tab-separated fields 'query-id corpus-id score', found ${f.length}`);
  return [f[0], f[1], f[2].trim()];
}

export function readQrels(path: string): Qrels {
  return parseQrels(readText(path, "qrels"), path);
}

/** Qrels as text: TREC (`qid 0 docid rel`) or BEIR TSV with its header; queries in the map's order. */
export function formatQrels(qrels: Qrels, format: QrelsFormat = "trec"): string {
  const lines: string[] = format === "beir" ? [BEIR_HEADER.join("\t") + "\n"] : [];
  for (const [qid, docs] of qrels)
    for (const [doc, rel] of docs) {
      if (format === "beir") lines.push(`${tsvId(qid, "query id")}\t${tsvId(doc, "document id")}\t${rel}\n`);
      else lines.push(`${checkId(qid, "query id")} 0 ${checkId(doc, "document id")} ${rel}\n`);
    }
  return lines.join("");
}

function tsvId(id: string, what: string): string {
  if (id === "" || /[\t\n\r]/.test(id))
    throw new Error(`${what} '${id}' is empty or holds a tab or newline, which a TSV cannot hold; rename it`);
  return id;
}

export function writeQrels(path: string, qrels: Qrels, format: QrelsFormat = "trec"): void {
  writeAtomic(path, formatQrels(qrels, format));
}

// Published numbers to print next to ours, from a small YAML file (or the same structure as JSON):
//
//   name: mAggretriever (Lin et al. 2023)      # shown in the column header / legend
//   source: Table 4                            # optional, shown in the footnote
//   tables:                                    # table id (as in the report's headings)
//     summary:
//       "X_Q=X_C": {mAP@100: 61.2}             # row key: {column key: value in percent}
//     pairs:
//       en: {en: 70.1, de: 40.2}
//
// The YAML read here is the subset this needs (no YAML package in the dependencies): nested
// mappings by indentation (spaces), one-line flow mappings {k: v, ...}, plain or quoted scalars,
// and # comments. Anything else is an error naming the file and line.
import { readFileSync } from "node:fs";
import type { Reference } from "./report.ts";

type Yaml = string | number | boolean | null | { [k: string]: Yaml };

export function readReference(file: string): Reference {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(
      `cannot read reference file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check --reference`,
      {
        cause: e,
      },
    );
  }
  let doc: unknown;
  if (file.endsWith(".json")) {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message}); fix the file`, { cause: e });
    }
  } else doc = parseYaml(text, file);
  return checkReference(doc, file);
}

/** The structure: name, optional source, tables -> table -> row -> column -> number. */
export function checkReference(doc: unknown, file: string): Reference {
  const isMap = (x: unknown): x is Record<string, unknown> =>
    typeof x === "object" && x !== null && !Array.isArray(x);
  if (!isMap(doc))
    throw new Error(`${file}: expected a mapping with name and tables; see the format in the docs`);
  for (const k of Object.keys(doc))
    if (!["name", "source", "tables"].includes(k))
      throw new Error(`${file}: unknown key "${k}"; a reference file has name, source and tables`);
  if (typeof doc.name !== "string" || doc.name === "")
    throw new Error(`${file}: needs a "name" (who published the numbers)`);
  if (doc.source !== undefined && typeof doc.source !== "string")
    throw new Error(`${file}: "source" must be text`);
  if (!isMap(doc.tables))
    throw new Error(`${file}: needs "tables": table id -> row key -> column key -> value`);
  const tables: Reference["tables"] = {};
  for (const [t, rows] of Object.entries(doc.tables)) {
    if (!isMap(rows)) throw new Error(`${file}: tables.${t} must map row keys to {column: value}`);
    tables[t] = {};
    for (const [r, cols] of Object.entries(rows)) {
      if (!isMap(cols)) throw new Error(`${file}: tables.${t}.${r} must map column keys to values`);
      tables[t][r] = {};
      for (const [c, v] of Object.entries(cols)) {
        if (typeof v !== "number" || !Number.isFinite(v))
          throw new Error(
            `${file}: tables.${t}.${r}.${c} must be a number (percent, as printed), got ${JSON.stringify(v)}`,
          );
        tables[t][r][c] = v;
      }
    }
  }
  return { name: doc.name, ...(doc.source ? { source: doc.source as string } : {}), tables };
}

interface YLine {
  n: number;
  indent: number;
  text: string;
}

/** The YAML subset described above, to plain objects. */
export function parseYaml(text: string, file = "yaml"): Yaml {
  const lines: YLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const n = i + 1;
    if (/^\s*\t/.test(raw)) throw new Error(`${file}:${n}: indent with spaces, not tabs`);
    const body = stripComment(raw, `${file}:${n}`);
    if (body.trim() === "" || body.trim() === "---") return;
    lines.push({ n, indent: body.length - body.trimStart().length, text: body.trim() });
  });
  let at = 0;
  const block = (indent: number): Record<string, Yaml> => {
    const out: Record<string, Yaml> = {};
    while (at < lines.length && lines[at].indent >= indent) {
      const line = lines[at];
      const where = `${file}:${line.n}`;
      if (line.indent > indent)
        throw new Error(`${where}: unexpected indentation; align it with the keys above`);
      if (line.text.startsWith("- "))
        throw new Error(`${where}: lists are not supported; use key: value mappings`);
      const [key, rest] = splitKey(line.text, where);
      if (Object.hasOwn(out, key)) throw new Error(`${where}: key "${key}" given twice`);
      at++;
      if (rest === "") {
        const next = lines[at];
        out[key] = next && next.indent > indent ? block(next.indent) : null;
      } else out[key] = rest.startsWith("{") ? flow(rest, where) : scalar(rest, where);
    }
    return out;
  };
  const doc = block(lines[0]?.indent ?? 0);
  if (at < lines.length)
    throw new Error(`${file}:${lines[at].n}: unexpected indentation; align it with the keys above`);
  return doc;
}

/** Drops a # comment (at the start, or after a space, outside quotes). */
function stripComment(line: string, where: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "#" && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  if (quote) throw new Error(`${where}: unclosed ${quote} quote`);
  return line;
}

/** "key: rest" with the key plain or quoted. */
function splitKey(text: string, where: string): [string, string] {
  let key: string;
  let rest: string;
  if (text[0] === '"' || text[0] === "'") {
    const end = text.indexOf(text[0], 1);
    if (end < 0) throw new Error(`${where}: unclosed quote in a key`);
    key = text.slice(1, end);
    rest = text.slice(end + 1).trimStart();
    if (!rest.startsWith(":")) throw new Error(`${where}: expected "key: value"`);
    rest = rest.slice(1);
  } else {
    const colon = text.search(/:(\s|$)/);
    if (colon < 0) throw new Error(`${where}: expected "key: value", got ${JSON.stringify(text)}`);
    key = text.slice(0, colon).trim();
    rest = text.slice(colon + 1);
  }
  if (key === "") throw new Error(`${where}: empty key`);
  return [key, rest.trim()];
}

/** {a: 1, "b c": 2} on one line; values are scalars. */
function flow(text: string, where: string): Record<string, Yaml> {
  if (!text.endsWith("}")) throw new Error(`${where}: a {...} mapping must close on the same line`);
  const out: Record<string, Yaml> = {};
  const inner = text.slice(1, -1).trim();
  if (inner === "") return out;
  for (const item of splitTop(inner, where)) {
    const [key, rest] = splitKey(item.trim(), where);
    if (rest.startsWith("{"))
      throw new Error(`${where}: nested {...} mappings are not supported; use indentation`);
    if (Object.hasOwn(out, key)) throw new Error(`${where}: key "${key}" given twice`);
    out[key] = scalar(rest, where);
  }
  return out;
}

/** Splits on commas outside quotes. */
function splitTop(text: string, where: string): string[] {
  const parts: string[] = [];
  let quote = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === ",") {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quote) throw new Error(`${where}: unclosed ${quote} quote`);
  parts.push(text.slice(start));
  return parts.filter((p) => p.trim() !== "");
}

function scalar(text: string, where: string): Yaml {
  if (text[0] === '"' || text[0] === "'") {
    if (text.length < 2 || text.at(-1) !== text[0]) throw new Error(`${where}: unclosed quote in ${text}`);
    return text.slice(1, -1);
  }
  if (text.startsWith("[")) throw new Error(`${where}: lists are not supported; use key: value mappings`);
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  if (text === "null" || text === "~") return null;
  return text;
}

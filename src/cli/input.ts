// Reading texts for the CLI: one text per line, or JSONL objects with a text field (`--field`),
// from a file or standard input. Errors name the file and line.

import { readFileSync } from "node:fs";

export interface InputText {
  id?: string;
  text: string;
}

/** The lines of a file or of standard input ("-"), without the final newline's empty line. */
export function readInputLines(path: string): { name: string; lines: string[] } {
  const name = path === "-" ? "standard input" : path;
  let raw: string;
  try {
    raw = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new Error(
      `cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check the --input path`,
      { cause: e },
    );
  }
  const lines = raw.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return { name, lines };
}

export function readTexts(path: string, field = "text"): InputText[] {
  const { name, lines } = readInputLines(path);
  const jsonl = path.endsWith(".jsonl") || (lines.length > 0 && lines[0].trimStart().startsWith("{"));
  if (!jsonl) return lines.map((text) => ({ text }));
  return lines.flatMap((line, i) => {
    if (!line.trim()) return [];
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${name}:${i + 1}: not valid JSON; each line must be one JSON object`, { cause: e });
    }
    const text = obj[field];
    if (typeof text !== "string")
      throw new Error(`${name}:${i + 1}: no string field "${field}"; name the text field with --field`);
    const id = obj.id ?? obj._id;
    return [{ id: id === undefined ? undefined : String(id), text }];
  });
}

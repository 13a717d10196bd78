// Line-aligned text files, the format of every bitext-mining set here (Tatoeba, FLORES-200,
// NLLB-Seed): one sentence per line, line i of one file translating line i of the other, so the
// gold of a sentence is its line index and any shift between the two sides silently ruins every
// score. Hence the line-count check: a mismatch is an error, never a truncation.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { resolveNllbLang } from "../../text/nllb-langs.ts";
import type { Bitext } from "./task.ts";

/**
 * The lines of a UTF-8 text file, verbatim (the files are byte-for-byte copies of the published
 * data; some lines end in spaces, and we keep them). A BOM, CRLF endings and the final newline are
 * not part of any line.
 */
export function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new Error(`${file}: cannot read (${why}); check the data folder`, { cause: e });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** Reads two line-aligned files as a Bitext; unequal line counts are an error naming both files. */
export function readBitext(srcFile: string, tgtFile: string, srcLang: string, tgtLang: string): Bitext {
  const src = readLines(srcFile);
  const tgt = readLines(tgtFile);
  if (src.length !== tgt.length) {
    throw new Error(
      `${srcFile} has ${src.length} lines but ${tgtFile} has ${tgt.length}: line-aligned files must have equal line counts; re-copy them`,
    );
  }
  return { src, tgt, srcLang, tgtLang };
}

/** File names in `dir` (which must exist), for the language listings. */
export function listDir(dir: string, what: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`${dir}: no such folder; pass the ${what} folder`);
  }
  return readdirSync(dir).sort();
}

/**
 * `code` as one of `available` (NLLB-style codes like hin_Deva): exact, else through the NLLB
 * code resolver, so "hi" or "hin" also find hin_Deva. Unknown codes list what the folder has.
 */
export function pickLang(code: string, available: readonly string[], where: string): string {
  if (available.includes(code)) return code;
  let resolved: string | undefined;
  try {
    resolved = resolveNllbLang(code);
  } catch {
    resolved = undefined;
  }
  if (resolved !== undefined && available.includes(resolved)) return resolved;
  throw new Error(`${where}: no language "${code}"; languages there: ${available.join(", ")}`);
}

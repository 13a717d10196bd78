// FLORES-200: <dir>/<split>/<code>.<split> per language (split "dev" or "devtest"), every file
// line-aligned with every other, so any two languages make a bitext (xx-eng_Latn is xSIM's).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { listDir, pickLang, readBitext } from "./bitext.ts";
import type { Bitext } from "./task.ts";

export interface FloresOptions {
  /** Default "devtest" (the one split in ../shared/data/flores200). */
  split?: string;
}

/** The languages of a split, sorted. `dir` is the FLORES-200 root or the split folder itself. */
export function listFloresLangs(dir: string, opts: FloresOptions = {}): string[] {
  const split = opts.split ?? "devtest";
  const ext = `.${split}`;
  const langs = listDir(splitDir(dir, split), "FLORES-200")
    .filter((f) => f.endsWith(ext))
    .map((f) => f.slice(0, -ext.length));
  if (langs.length === 0)
    throw new Error(`${dir}: no <lang>${ext} files; pass the FLORES-200 folder holding ${split}/`);
  return langs;
}

/** The (src, tgt) bitext of a split; codes like "hin_Deva", or "hi"/"hin" where unambiguous. */
export function loadFlores(dir: string, src: string, tgt: string, opts: FloresOptions = {}): Bitext {
  const split = opts.split ?? "devtest";
  const langs = listFloresLangs(dir, opts);
  const s = pickLang(src, langs, `${dir} (FLORES-200 ${split})`);
  const t = pickLang(tgt, langs, `${dir} (FLORES-200 ${split})`);
  const file = (l: string) => join(splitDir(dir, split), `${l}.${split}`);
  return readBitext(file(s), file(t), s, t);
}

const splitDir = (dir: string, split: string) => (existsSync(join(dir, split)) ? join(dir, split) : dir);

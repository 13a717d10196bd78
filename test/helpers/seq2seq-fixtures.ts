// The seq2seq fixture folders under <fixtures root>/seq2seq/: every folder with a cases.json,
// none named here, so held-out models in the same layout are tested too.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fixturesRoot } from "./shared.ts";

export const seq2seqRoot = join(fixturesRoot, "seq2seq");

export const seq2seqFolders: string[] = existsSync(seq2seqRoot)
  ? readdirSync(seq2seqRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(seq2seqRoot, e.name, "cases.json")))
      .map((e) => e.name)
      .sort()
  : [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Cases = any;

export const readCases = (name: string): Cases =>
  JSON.parse(readFileSync(join(seq2seqRoot, name, "cases.json"), "utf8"));

export function maxAbsDiff(got: ArrayLike<number>, want: unknown): number {
  const w = (Array.isArray(want) ? want.flat(4) : Array.from(want as ArrayLike<number>)) as number[];
  if (got.length !== w.length) throw new Error(`size ${got.length} vs reference ${w.length}`);
  let m = 0;
  for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(got[i] - w[i]));
  return m;
}

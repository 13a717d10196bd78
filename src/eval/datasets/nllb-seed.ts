// Multitext NLLB-Seed: one extensionless file per language named by its FLORES-200 code
// (eng_Latn, fur_Latn, ...), all line-aligned, so any two languages make a bitext. NLLB-200 was
// trained on it: scores of NLLB-based encoders here are a sanity check, not zero-shot results.
import { join } from "node:path";
import { listDir, pickLang, readBitext } from "./bitext.ts";
import type { Bitext } from "./task.ts";

const CODE = /^[a-z]{3}_[A-Z][a-z]{3}$/;

export function listNllbSeedLangs(dir: string): string[] {
  const langs = listDir(dir, "NLLB-Seed (multitext)").filter((f) => CODE.test(f));
  if (langs.length === 0)
    throw new Error(`${dir}: no <lang>_<Script> files; pass the NLLB-Seed multitext folder`);
  return langs;
}

/** The (src, tgt) bitext; codes like "fur_Latn", or "fur" where unambiguous. */
export function loadNllbSeed(dir: string, src: string, tgt: string): Bitext {
  const langs = listNllbSeedLangs(dir);
  const s = pickLang(src, langs, `${dir} (NLLB-Seed)`);
  const t = pickLang(tgt, langs, `${dir} (NLLB-Seed)`);
  return readBitext(join(dir, s), join(dir, t), s, t);
}

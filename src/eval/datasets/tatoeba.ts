// The LASER Tatoeba test set: per pair two line-aligned files, tatoeba.XXX-eng.XXX (the foreign
// side) and tatoeba.XXX-eng.eng (its own English side, which differs from pair to pair), with
// ISO 639-3 codes (some outside NLLB-200: cmn, wuu, lvs, ...), so codes are taken as written.
import { join } from "node:path";
import { resolveNllbLang } from "../../text/nllb-langs.ts";
import { listDir, readBitext } from "./bitext.ts";
import type { Bitext } from "./task.ts";

const PAIR = /^tatoeba\.([a-z]{3})-eng\.\1$/;

/** The xx of every xx-eng pair in `dir` whose two files are both there, sorted. */
export function listTatoebaLangs(dir: string): string[] {
  const files = listDir(dir, "Tatoeba (LASER data/tatoeba/v1)");
  const langs = files
    .flatMap((f) => PAIR.exec(f)?.[1] ?? [])
    .filter((l) => files.includes(`tatoeba.${l}-eng.eng`));
  if (langs.length === 0)
    throw new Error(`${dir}: no tatoeba.xxx-eng.xxx/.eng file pairs; pass the Tatoeba folder`);
  return langs;
}

/** The xx-eng pair: src = the `lang` side, tgt = its English side. "de" also finds deu. */
export function loadTatoeba(dir: string, code: string): Bitext {
  const langs = listTatoebaLangs(dir);
  const lang = langs.includes(code) ? code : iso3(code);
  if (lang === undefined || !langs.includes(lang)) {
    throw new Error(
      `${dir}: no Tatoeba pair "${code}-eng" (ISO 639-3 codes); pairs there: ${langs.join(", ")}`,
    );
  }
  const stem = join(dir, `tatoeba.${lang}-eng`);
  return readBitext(`${stem}.${lang}`, `${stem}.eng`, lang, "eng");
}

function iso3(code: string): string | undefined {
  try {
    return resolveNllbLang(code).slice(0, 3);
  } catch {
    return undefined;
  }
}

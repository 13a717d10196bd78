// The 202 NLLB-200 (FLORES-200) language codes and the friendlier names users type for them.
// Codes are ISO 639-3 + ISO 15924 script ("hin_Deva"); we also accept ISO 639-1 ("hi"), bare
// ISO 639-3 ("hin") where NLLB has one script for it, and BCP-47 tags ("zh-Hant", "pt-BR").
import type { TextTokenizer } from "./tokenizer.ts";

/** In the order of transformers' FAIRSEQ_LANGUAGE_CODES, which is the order of their token ids. */
// prettier-ignore
export const NLLB_LANGS: readonly string[] = [
  "ace_Arab", "ace_Latn", "acm_Arab", "acq_Arab", "aeb_Arab", "afr_Latn", "ajp_Arab", "aka_Latn",
  "amh_Ethi", "apc_Arab", "arb_Arab", "ars_Arab", "ary_Arab", "arz_Arab", "asm_Beng", "ast_Latn",
  "awa_Deva", "ayr_Latn", "azb_Arab", "azj_Latn", "bak_Cyrl", "bam_Latn", "ban_Latn", "bel_Cyrl",
  "bem_Latn", "ben_Beng", "bho_Deva", "bjn_Arab", "bjn_Latn", "bod_Tibt", "bos_Latn", "bug_Latn",
  "bul_Cyrl", "cat_Latn", "ceb_Latn", "ces_Latn", "cjk_Latn", "ckb_Arab", "crh_Latn", "cym_Latn",
  "dan_Latn", "deu_Latn", "dik_Latn", "dyu_Latn", "dzo_Tibt", "ell_Grek", "eng_Latn", "epo_Latn",
  "est_Latn", "eus_Latn", "ewe_Latn", "fao_Latn", "pes_Arab", "fij_Latn", "fin_Latn", "fon_Latn",
  "fra_Latn", "fur_Latn", "fuv_Latn", "gla_Latn", "gle_Latn", "glg_Latn", "grn_Latn", "guj_Gujr",
  "hat_Latn", "hau_Latn", "heb_Hebr", "hin_Deva", "hne_Deva", "hrv_Latn", "hun_Latn", "hye_Armn",
  "ibo_Latn", "ilo_Latn", "ind_Latn", "isl_Latn", "ita_Latn", "jav_Latn", "jpn_Jpan", "kab_Latn",
  "kac_Latn", "kam_Latn", "kan_Knda", "kas_Arab", "kas_Deva", "kat_Geor", "knc_Arab", "knc_Latn",
  "kaz_Cyrl", "kbp_Latn", "kea_Latn", "khm_Khmr", "kik_Latn", "kin_Latn", "kir_Cyrl", "kmb_Latn",
  "kon_Latn", "kor_Hang", "kmr_Latn", "lao_Laoo", "lvs_Latn", "lij_Latn", "lim_Latn", "lin_Latn",
  "lit_Latn", "lmo_Latn", "ltg_Latn", "ltz_Latn", "lua_Latn", "lug_Latn", "luo_Latn", "lus_Latn",
  "mag_Deva", "mai_Deva", "mal_Mlym", "mar_Deva", "min_Latn", "mkd_Cyrl", "plt_Latn", "mlt_Latn",
  "mni_Beng", "khk_Cyrl", "mos_Latn", "mri_Latn", "zsm_Latn", "mya_Mymr", "nld_Latn", "nno_Latn",
  "nob_Latn", "npi_Deva", "nso_Latn", "nus_Latn", "nya_Latn", "oci_Latn", "gaz_Latn", "ory_Orya",
  "pag_Latn", "pan_Guru", "pap_Latn", "pol_Latn", "por_Latn", "prs_Arab", "pbt_Arab", "quy_Latn",
  "ron_Latn", "run_Latn", "rus_Cyrl", "sag_Latn", "san_Deva", "sat_Beng", "scn_Latn", "shn_Mymr",
  "sin_Sinh", "slk_Latn", "slv_Latn", "smo_Latn", "sna_Latn", "snd_Arab", "som_Latn", "sot_Latn",
  "spa_Latn", "als_Latn", "srd_Latn", "srp_Cyrl", "ssw_Latn", "sun_Latn", "swe_Latn", "swh_Latn",
  "szl_Latn", "tam_Taml", "tat_Cyrl", "tel_Telu", "tgk_Cyrl", "tgl_Latn", "tha_Thai", "tir_Ethi",
  "taq_Latn", "taq_Tfng", "tpi_Latn", "tsn_Latn", "tso_Latn", "tuk_Latn", "tum_Latn", "tur_Latn",
  "twi_Latn", "tzm_Tfng", "uig_Arab", "ukr_Cyrl", "umb_Latn", "urd_Arab", "uzn_Latn", "vec_Latn",
  "vie_Latn", "war_Latn", "wol_Latn", "xho_Latn", "ydd_Hebr", "yor_Latn", "yue_Hant", "zho_Hans",
  "zho_Hant", "zul_Latn",
];

// ISO 639-1 -> NLLB language. Macrolanguages map to the member NLLB-200 covers (ar -> arb, Modern
// Standard Arabic; fa -> pes; sw -> swh; ...). Includes the retired iw/in/ji/mo.
// prettier-ignore
const ISO_639_1: Readonly<Record<string, string>> = {
  af: "afr", ak: "aka", am: "amh", ar: "arb", as: "asm", ay: "ayr", az: "azj", ba: "bak", be: "bel",
  bg: "bul", bm: "bam", bn: "ben", bo: "bod", bs: "bos", ca: "cat", cs: "ces", cy: "cym", da: "dan",
  de: "deu", dz: "dzo", ee: "ewe", el: "ell", en: "eng", eo: "epo", es: "spa", et: "est", eu: "eus",
  fa: "pes", ff: "fuv", fi: "fin", fj: "fij", fo: "fao", fr: "fra", ga: "gle", gd: "gla", gl: "glg",
  gn: "grn", gu: "guj", ha: "hau", he: "heb", hi: "hin", hr: "hrv", ht: "hat", hu: "hun", hy: "hye",
  id: "ind", ig: "ibo", is: "isl", it: "ita", ja: "jpn", jv: "jav", ka: "kat", kg: "kon", ki: "kik",
  kk: "kaz", km: "khm", kn: "kan", ko: "kor", kr: "knc", ks: "kas", ku: "kmr", ky: "kir", lb: "ltz",
  lg: "lug", li: "lim", ln: "lin", lo: "lao", lt: "lit", lv: "lvs", mg: "plt", mi: "mri", mk: "mkd",
  ml: "mal", mn: "khk", mr: "mar", ms: "zsm", mt: "mlt", my: "mya", nb: "nob", ne: "npi", nl: "nld",
  nn: "nno", no: "nob", ny: "nya", oc: "oci", om: "gaz", or: "ory", pa: "pan", pl: "pol", ps: "pbt",
  pt: "por", qu: "quy", rn: "run", ro: "ron", ru: "rus", rw: "kin", sa: "san", sc: "srd", sd: "snd",
  sg: "sag", si: "sin", sk: "slk", sl: "slv", sm: "smo", sn: "sna", so: "som", sq: "als", sr: "srp",
  ss: "ssw", st: "sot", su: "sun", sv: "swe", sw: "swh", ta: "tam", te: "tel", tg: "tgk", th: "tha",
  ti: "tir", tk: "tuk", tl: "tgl", tn: "tsn", tr: "tur", ts: "tso", tt: "tat", tw: "twi", ug: "uig",
  uk: "ukr", ur: "urd", uz: "uzn", vi: "vie", wo: "wol", xh: "xho", yi: "ydd", yo: "yor", zh: "zho",
  zu: "zul", iw: "heb", in: "ind", ji: "ydd", mo: "ron",
};

// Other three-letter codes for NLLB languages: macrolanguages, ISO 639-2/B codes, Filipino, Mandarin.
// prettier-ignore
const ISO_639_3_ALIASES: Readonly<Record<string, string>> = {
  ara: "arb", aym: "ayr", aze: "azj", fas: "pes", per: "pes", ful: "fuv", kau: "knc", kur: "kmr",
  lav: "lvs", mlg: "plt", mon: "khk", msa: "zsm", may: "zsm", nep: "npi", nor: "nob", orm: "gaz",
  pus: "pbt", que: "quy", sqi: "als", alb: "als", swa: "swh", uzb: "uzn", yid: "ydd", fil: "tgl",
  cmn: "zho", chi: "zho", arm: "hye", baq: "eus", bur: "mya", cze: "ces", dut: "nld", fre: "fra",
  geo: "kat", ger: "deu", gre: "ell", ice: "isl", mac: "mkd", mao: "mri", rum: "ron", slo: "slk",
  tib: "bod", wel: "cym",
};

// Languages NLLB has in two scripts: only Chinese gets a default (Simplified, as "zh" means in
// practice); for the others (ace, bjn, kas, knc, taq) the user must say which script.
const DEFAULT_CODE: Readonly<Record<string, string>> = { zho: "zho_Hans" };
// BCP-47 regions that imply Traditional Chinese when no script subtag is given.
const HANT_REGIONS = new Set(["tw", "hk", "mo"]);

const ISO_1 = new Map(Object.entries(ISO_639_1));
const ISO_3 = new Map(Object.entries(ISO_639_3_ALIASES));
const BY_LOWER = new Map(NLLB_LANGS.map((c) => [c.toLowerCase(), c]));
const BY_LANGUAGE = new Map<string, string[]>();
for (const c of NLLB_LANGS) BY_LANGUAGE.set(c.slice(0, 3), [...(BY_LANGUAGE.get(c.slice(0, 3)) ?? []), c]);

export function isNllbLang(code: string): boolean {
  return NLLB_LANGS.includes(code);
}

/** Maps any accepted spelling to its NLLB-200 code; throws a one-line error naming close codes. */
export function resolveNllbLang(code: string): string {
  if (typeof code !== "string" || code.trim() === "") {
    throw new Error(
      `language code ${JSON.stringify(code)} is empty: give an NLLB-200 code like eng_Latn or hi`,
    );
  }
  const key = code.trim().replace(/-/g, "_").toLowerCase();
  const exact = BY_LOWER.get(key);
  if (exact) return exact;

  const [lang, ...rest] = key.split("_");
  let base = languageOf(lang);
  if (base === undefined) throw new Error(unknownMessage(code, key, lang));
  // A BCP-47 extended language subtag names the real language: zh-yue is Cantonese.
  const extlang = rest[0] !== undefined && /^[a-z]{3}$/.test(rest[0]) ? languageOf(rest[0]) : undefined;
  if (extlang !== undefined) base = extlang;
  const codes = BY_LANGUAGE.get(base)!;

  const script = rest.find((s) => /^[a-z]{4}$/.test(s));
  if (script !== undefined) {
    const wanted = `${base}_${script[0].toUpperCase()}${script.slice(1)}`;
    if (codes.includes(wanted)) return wanted;
    throw new Error(
      `language code "${code}": NLLB-200 has no ${base} in script ${wanted.slice(4)}; use ${codes.join(" or ")}`,
    );
  }
  if (base === "zho" && rest.some((s) => HANT_REGIONS.has(s))) return "zho_Hant";
  if (codes.length === 1) return codes[0];
  if (Object.hasOwn(DEFAULT_CODE, base)) return DEFAULT_CODE[base];
  throw new Error(
    `language code "${code}" is written in several scripts in NLLB-200: use ${codes.join(" or ")}`,
  );
}

function languageOf(subtag: string): string | undefined {
  return ISO_1.get(subtag) ?? ISO_3.get(subtag) ?? (BY_LANGUAGE.has(subtag) ? subtag : undefined);
}

/** The id of the language-code token (an added token in NLLB's tokenizer.json). */
export function nllbLangTokenId(tok: Pick<TextTokenizer, "tokenToId" | "source">, code: string): number {
  const lang = resolveNllbLang(code);
  const id = tok.tokenToId(lang);
  if (id === undefined) {
    throw new Error(`${tok.source} has no token for language ${lang}: load an NLLB-200 tokenizer.json`);
  }
  return id;
}

// Suggestions: rank NLLB codes by how close their language part or any alias is to the input's
// language subtag, and by the whole spelling (hnd_Deva -> hne_Deva, hin_Deva); an input that
// spells a script ranks by the whole spelling first.
function unknownMessage(code: string, key: string, lang: string): string {
  const byLanguage = new Map<string, number>();
  const offer = (codes: readonly string[], distance: number) => {
    for (const c of codes) byLanguage.set(c, Math.min(byLanguage.get(c) ?? Infinity, distance));
  };
  for (const [base, codes] of BY_LANGUAGE) offer(codes, editDistance(lang, base));
  for (const [alias, base] of [...ISO_1, ...ISO_3]) offer(BY_LANGUAGE.get(base)!, editDistance(lang, alias));

  const wholeFirst = key !== lang;
  const ranked = NLLB_LANGS.map((c) => {
    const whole = editDistance(key, c.toLowerCase());
    const language = byLanguage.get(c)!;
    return { c, first: wholeFirst ? whole : language, second: wholeFirst ? language : whole };
  });
  ranked.sort((a, b) => a.first - b.first || a.second - b.second); // stable: ties keep NLLB order
  const near = ranked.slice(0, 3).map((r) => r.c);
  return (
    `unknown language code "${code}": did you mean ${near.join(", ")}? ` +
    `Give an NLLB-200 code (hin_Deva), an ISO 639 code (hi, hin) or a BCP-47 tag (zh-Hant)`
  );
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

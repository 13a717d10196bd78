import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isNllbLang, NLLB_LANGS, nllbLangTokenId, resolveNllbLang } from "../../src/text/nllb-langs.ts";
import { tokenizerFromJson } from "../../src/text/tokenizer.ts";
import { tinyNllb } from "../helpers/tiny-tokenizers.ts";

describe("NLLB_LANGS", () => {
  it("holds the 202 FLORES-200 codes in NLLB's token order", () => {
    assert.equal(NLLB_LANGS.length, 202);
    assert.equal(new Set(NLLB_LANGS).size, 202);
    assert.equal(NLLB_LANGS[0], "ace_Arab");
    assert.equal(NLLB_LANGS.at(-1), "zul_Latn");
    // NLLB keeps fairseq's order, which is not alphabetical here: pes after fao, zsm after mri.
    assert.equal(NLLB_LANGS.indexOf("pes_Arab"), NLLB_LANGS.indexOf("fao_Latn") + 1);
    assert.equal(NLLB_LANGS.indexOf("eng_Latn"), 46);
    for (const c of NLLB_LANGS) assert.match(c, /^[a-z]{3}_[A-Z][a-z]{3}$/);
  });

  it("has the macrolanguage members NLLB uses and nothing else", () => {
    for (const c of ["arb_Arab", "pes_Arab", "prs_Arab", "zsm_Latn", "swh_Latn", "lvs_Latn", "khk_Cyrl"]) {
      assert.ok(isNllbLang(c), c);
    }
    for (const c of ["ara_Arab", "fas_Arab", "msa_Latn", "swa_Latn", "zho_Latn", "eng_latn"]) {
      assert.ok(!isNllbLang(c), c);
    }
    const twoScripts = ["ace", "bjn", "kas", "knc", "taq", "zho"];
    const counts = new Map<string, number>();
    for (const c of NLLB_LANGS) counts.set(c.slice(0, 3), (counts.get(c.slice(0, 3)) ?? 0) + 1);
    assert.deepEqual(
      [...counts]
        .filter(([, n]) => n > 1)
        .map(([l]) => l)
        .sort(),
      twoScripts,
    );
  });
});

describe("resolveNllbLang", () => {
  it("returns every NLLB code as itself, in any case and with - or _", () => {
    for (const c of NLLB_LANGS) {
      assert.equal(resolveNllbLang(c), c);
      assert.equal(resolveNllbLang(c.toUpperCase()), c);
      assert.equal(resolveNllbLang(c.replace("_", "-")), c);
    }
  });

  it("maps ISO 639-1 codes", () => {
    const expected: Record<string, string> = {
      hi: "hin_Deva",
      en: "eng_Latn",
      zh: "zho_Hans",
      sw: "swh_Latn",
      ar: "arb_Arab",
      th: "tha_Thai",
      fa: "pes_Arab",
      ms: "zsm_Latn",
      de: "deu_Latn",
      ja: "jpn_Jpan",
      ko: "kor_Hang",
      he: "heb_Hebr",
      iw: "heb_Hebr",
      no: "nob_Latn",
      uz: "uzn_Latn",
      sq: "als_Latn",
      mn: "khk_Cyrl",
      ne: "npi_Deva",
      pa: "pan_Guru",
      or: "ory_Orya",
      EN: "eng_Latn",
    };
    for (const [code, nllb] of Object.entries(expected)) assert.equal(resolveNllbLang(code), nllb, code);
  });

  it("maps bare ISO 639-3 codes and macrolanguage / 639-2B aliases", () => {
    const expected: Record<string, string> = {
      hin: "hin_Deva",
      eng: "eng_Latn",
      HIN: "hin_Deva",
      yue: "yue_Hant",
      zho: "zho_Hans",
      cmn: "zho_Hans",
      ara: "arb_Arab",
      fas: "pes_Arab",
      swa: "swh_Latn",
      fil: "tgl_Latn",
      ger: "deu_Latn",
      fre: "fra_Latn",
    };
    for (const [code, nllb] of Object.entries(expected)) assert.equal(resolveNllbLang(code), nllb, code);
  });

  it("maps BCP-47 tags with script, region or extlang", () => {
    const expected: Record<string, string> = {
      "zh-Hant": "zho_Hant",
      "zh-Hans": "zho_Hans",
      "zh-TW": "zho_Hant",
      "zh-HK": "zho_Hant",
      "zh-CN": "zho_Hans",
      "zh-Hant-TW": "zho_Hant",
      ZH_hant: "zho_Hant",
      "zh-yue": "yue_Hant",
      "en-US": "eng_Latn",
      "pt-BR": "por_Latn",
      "ks-Deva": "kas_Deva",
      "ks-Arab": "kas_Arab",
      "sr-Cyrl": "srp_Cyrl",
      "hi-Deva-IN": "hin_Deva",
      " eng_Latn ": "eng_Latn",
    };
    for (const [code, nllb] of Object.entries(expected)) assert.equal(resolveNllbLang(code), nllb, code);
  });

  it("asks for a script where NLLB has two and there is no default", () => {
    assert.throws(
      () => resolveNllbLang("ks"),
      /"ks" is written in several scripts in NLLB-200: use kas_Arab or kas_Deva/,
    );
    assert.throws(() => resolveNllbLang("ace"), /use ace_Arab or ace_Latn/);
  });

  it("names the scripts it has when asked for one it has not", () => {
    assert.throws(() => resolveNllbLang("sr-Latn"), /NLLB-200 has no srp in script Latn; use srp_Cyrl/);
    assert.throws(() => resolveNllbLang("hin_Latn"), /no hin in script Latn; use hin_Deva/);
  });

  it("suggests close codes for unknown ones", () => {
    assert.throws(() => resolveNllbLang("engl"), /unknown language code "engl": did you mean eng_Latn/);
    assert.throws(() => resolveNllbLang("hnd_Deva"), /did you mean hne_Deva, hin_Deva,/);
    assert.throws(
      () => resolveNllbLang("xx"),
      /unknown language code "xx": did you mean \w+_\w+, \w+_\w+, \w+_\w+\?/,
    );
  });

  it("does not trip over names of Object properties", () => {
    for (const code of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      assert.throws(() => resolveNllbLang(code), /unknown language code/, code);
    }
  });

  it("rejects empty codes; every error is one line", () => {
    assert.throws(() => resolveNllbLang(""), /is empty/);
    assert.throws(() => resolveNllbLang("  "), /is empty/);
    for (const code of ["", "xx", "ks", "sr-Latn"]) {
      assert.throws(
        () => resolveNllbLang(code),
        (e: Error) => !e.message.includes("\n"),
      );
    }
  });
});

describe("nllbLangTokenId", () => {
  const { tokenizer, config } = tinyNllb();
  const tok = tokenizerFromJson(tokenizer, config, "tiny-nllb");

  it("finds the added language-code tokens from any spelling", () => {
    const hin = tok.tokenToId("hin_Deva")!;
    assert.equal(typeof hin, "number");
    assert.equal(nllbLangTokenId(tok, "hi"), hin);
    assert.equal(nllbLangTokenId(tok, "hin_Deva"), hin);
    assert.equal(nllbLangTokenId(tok, "zh-TW"), tok.tokenToId("zho_Hant"));
  });

  it("names the tokenizer when the code is not in it", () => {
    assert.throws(() => nllbLangTokenId(tok, "fr"), /tiny-nllb has no token for language fra_Latn/);
  });
});

// X-MOD language codes: xx_XX names, 2-letter codes, FLORES-200 / NLLB codes and BCP-47 tags select
// the right adapter of the released 81-adapter list; a language without one is a one-line error
// listing the adapters, or the fallback when one is given. Also config.json's X-MOD fields.

import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveXmodLanguage } from "../../src/models/xmod-langs.ts";
import { resolveNllbLang } from "../../src/text/nllb-langs.ts";
import { parseConfig } from "../../src/weights/config.ts";

// facebook/xmod-base config.json `languages` (= antoinelouis/colbert-xm's), in adapter order
const XMOD_BASE = [
  ...["en_XX", "id_ID", "vi_VN", "ru_RU", "fa_IR", "sv_SE", "ja_XX", "fr_XX", "de_DE", "ro_RO"],
  ...["ko_KR", "hu_HU", "es_XX", "fi_FI", "uk_UA", "da_DK", "pt_XX", "no_XX", "th_TH", "pl_PL"],
  ...["bg_BG", "nl_XX", "zh_CN", "he_IL", "el_GR", "it_IT", "sk_SK", "hr_HR", "tr_TR", "ar_AR"],
  ...["cs_CZ", "lt_LT", "hi_IN", "zh_TW", "ca_ES", "ms_MY", "sl_SI", "lv_LV", "ta_IN", "bn_IN"],
  ...["et_EE", "az_AZ", "sq_AL", "sr_RS", "kk_KZ", "ka_GE", "tl_XX", "ur_PK", "is_IS", "hy_AM"],
  ...["ml_IN", "mk_MK", "be_BY", "la_VA", "te_IN", "eu_ES", "gl_ES", "mn_MN", "kn_IN", "ne_NP"],
  ...["sw_KE", "si_LK", "mr_IN", "af_ZA", "gu_IN", "cy_GB", "eo_EO", "km_KH", "ky_KG", "uz_UZ"],
  ...["ps_AF", "pa_IN", "ga_IE", "ha_NG", "am_ET", "lo_LA", "ku_TR", "so_SO", "my_MM", "or_IN"],
  "sa_IN",
];

test("FLORES/NLLB codes, 2-letter codes and tags select X-MOD adapters", () => {
  const want: [string, string][] = [
    ["hin_Deva", "hi_IN"],
    ["hi", "hi_IN"],
    ["swh_Latn", "sw_KE"],
    ["sw", "sw_KE"],
    ["deu_Latn", "de_DE"],
    ["de", "de_DE"],
    ["eng_Latn", "en_XX"],
    ["en", "en_XX"],
    ["en_XX", "en_XX"],
    ["hi-IN", "hi_IN"],
    ["zho_Hans", "zh_CN"],
    ["zh", "zh_CN"],
    ["zho_Hant", "zh_TW"],
    ["zh-TW", "zh_TW"],
    ["pes_Arab", "fa_IR"],
    ["npi_Deva", "ne_NP"],
    ["zsm_Latn", "ms_MY"],
    ["arb_Arab", "ar_AR"],
    ["nob_Latn", "no_XX"],
    ["tgl_Latn", "tl_XX"],
    ["la_VA", "la_VA"],
  ];
  for (const [code, name] of want) assert.equal(resolveXmodLanguage(code, XMOD_BASE), name, code);
});

test("every adapter but Latin is reached by its own NLLB code, and no two share one", () => {
  const seen = new Map<string, string>();
  for (const name of XMOD_BASE) {
    if (name === "la_VA") continue;
    const nllb = name === "zh_TW" ? "zho_Hant" : resolveNllbLang(name.split("_")[0]);
    assert.equal(resolveXmodLanguage(nllb, XMOD_BASE), name, nllb);
    assert.ok(!seen.has(nllb), `${nllb}: ${seen.get(nllb)} and ${name}`);
    seen.set(nllb, name);
  }
});

test("a language without an adapter: one line listing them, or the fallback", () => {
  const langs = ["en_XX", "de_DE", "hi_IN", "sw_KE"];
  assert.throws(
    () => resolveXmodLanguage("fra_Latn", langs),
    (e: Error) =>
      !e.message.includes("\n") &&
      /"fra_Latn" has no X-MOD adapter in this model; available: en_XX, de_DE, hi_IN, sw_KE/.test(e.message),
  );
  assert.throws(() => resolveXmodLanguage("xx_nonsense", langs), /no X-MOD adapter/);
  assert.equal(resolveXmodLanguage("fr", langs, { fallback: "en_XX" }), "en_XX");
  assert.equal(resolveXmodLanguage("de", langs, { fallback: "en_XX" }), "de_DE");
  assert.throws(
    () => resolveXmodLanguage("fr", langs, { fallback: "fr_XX" }),
    /fallback "fr_XX" is not an adapter/,
  );
});

test("config.json: X-MOD fields with XmodConfig's defaults", () => {
  const cfg = parseConfig({
    model_type: "xmod",
    hidden_size: 32,
    num_attention_heads: 4,
    languages: ["en_XX", "de_DE"],
  });
  assert.equal(cfg.family, "xlm-roberta");
  assert.equal(cfg.modelType, "xmod");
  assert.deepEqual(cfg.xmod, {
    languages: ["en_XX", "de_DE"],
    defaultLanguage: null,
    bottleneck: 16,
    adapterLayerNorm: false,
    adapterReuseLayerNorm: true,
    lnBeforeAdapter: true,
    preNorm: false,
  });
  assert.equal(parseConfig({ model_type: "xlm-roberta" }).xmod, undefined);
  assert.throws(
    () => parseConfig({ model_type: "xmod", languages: ["en_XX"], default_language: "de_DE" }),
    /default_language "de_DE" is not in languages/,
  );
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { porterStem } from "../../src/text/analyzer-porter.ts";
import { STEMMED_LANGUAGES } from "../../src/text/analyzer-langs.ts";
import {
  analyze,
  analyzerConfig,
  analyzerLanguage,
  checkAnalyzerConfig,
  DEFAULT_ANALYZER,
  makeAnalyzer,
  makeAsyncAnalyzer,
  sameAnalyzer,
} from "../../src/text/analyzer.ts";

describe("porterStem", () => {
  it("gives Lucene's PorterStemFilter output on Porter's examples", () => {
    // Expected stems as printed by Lucene 8.7's PorterStemFilter for the same words (the paper's
    // examples plus -tion words, where a popular npm port goes wrong, and 1-2 letter words).
    // prettier-ignore
    const cases = {
      caresses: "caress", ponies: "poni", ties: "ti", caress: "caress", cats: "cat", feed: "feed",
      agreed: "agre", plastered: "plaster", bled: "bled", motoring: "motor", sing: "sing",
      conflated: "conflat", troubled: "troubl", sized: "size", hopping: "hop", tanned: "tan",
      falling: "fall", hissing: "hiss", fizzed: "fizz", failing: "fail", filing: "file", happy: "happi",
      sky: "sky", relational: "relat", conditional: "condit", rational: "ration", valenci: "valenc",
      digitizer: "digit", conformabli: "conform", radicalli: "radic", differentli: "differ",
      vileli: "vile", analogousli: "analog", vietnamization: "vietnam", predication: "predic",
      operator: "oper", feudalism: "feudal", decisiveness: "decis", hopefulness: "hope",
      callousness: "callous", formaliti: "formal", sensitiviti: "sensit", sensibiliti: "sensibl",
      triplicate: "triplic", formative: "form", formalize: "formal", electriciti: "electr",
      electrical: "electr", hopeful: "hope", goodness: "good", revival: "reviv", allowance: "allow",
      inference: "infer", airliner: "airlin", gyroscopic: "gyroscop", adjustable: "adjust",
      defensible: "defens", irritant: "irrit", replacement: "replac", adjustment: "adjust",
      dependent: "depend", adoption: "adopt", homologou: "homolog", communism: "commun",
      activate: "activ", angulariti: "angular", homologous: "homolog", effective: "effect",
      bowdlerize: "bowdler", probate: "probat", rate: "rate", cease: "ceas", controll: "control",
      roll: "roll", generalizations: "gener", oscillators: "oscil", construction: "construct",
      institution: "institut", decision: "decis", lion: "lion", is: "is", by: "by", dying: "dy",
    };
    for (const [word, stem] of Object.entries(cases)) assert.equal(porterStem(word), stem, word);
  });
});

describe("analyze", () => {
  it("English: possessives, stop words and Porter stems, as Lucene's EnglishAnalyzer", () => {
    assert.deepEqual(
      analyze(
        "The Panthers' defense gave up just 308 points; John's cats were running to the U.S.A.",
        "eng_Latn",
      ),
      ["panther", "defens", "gave", "up", "just", "308", "point", "john", "cat", "were", "run", "u.s.a"],
    );
    // ISO 639-1, ISO 639-3 and BCP-47 spellings resolve to the same language.
    const text = "Generalizations of the oscillators";
    for (const lang of ["en", "eng", "en-US", "eng_Latn"])
      assert.deepEqual(analyze(text, lang), ["gener", "oscil"]);
  });

  it("German (Latin script with umlauts and ß): Snowball German stems and stop words", () => {
    assert.deepEqual(
      analyze("Die Häuser der Katzen standen an der Straße, und die Kinder liefen schnell.", "de"),
      ["haus", "katz", "stand", "strass", "kind", "lief", "schnell"],
    );
  });

  it("Russian (Cyrillic): Snowball Russian stems and stop words", () => {
    assert.deepEqual(
      analyze("Книгами и красивыми картинами восхищались все, кто был в этом доме.", "rus_Cyrl"),
      ["книг", "красив", "картин", "восхища", "дом"],
    );
    // Snowball 2 (as Lucene 9) folds ё into е: "её" and "ее" are one term.
    assert.deepEqual(analyze("ёлка елка", "ru"), ["елк", "елк"]);
  });

  it("Hindi (Devanagari): stop words and the light Hindi stemmer", () => {
    // में, और, ने, भी are Lucene's Hindi stop words; किताबें -> किताब, लड़कों -> लड़क.
    assert.deepEqual(analyze("मैं हिंदी में किताबें पढ़ता हूँ और लड़कों ने भी पढ़ीं।", "hin_Deva"), [
      "मैं",
      "हिंद",
      "किताब",
      "पढ़",
      "हूँ",
      "लड़क",
      "पढ़",
    ]);
  });

  it("Arabic: stop words (إلى) and Snowball Arabic stems (articles and plurals off)", () => {
    assert.deepEqual(analyze("ذهب الطالب إلى المكتبة، وقرأ الكتب.", "arb_Arab"), [
      "ذهب",
      "طالب",
      "مكتب",
      "قرء",
      "كتب",
    ]);
    // Arabic varieties NLLB names separately (Egyptian) share the analysis.
    assert.deepEqual(analyze("الكتب", "arz_Arab"), analyze("الكتب", "ar"));
  });

  it("Thai: words are found without spaces, and stop words go", () => {
    const terms = analyze("สำหรับการประชุมในวันนี้เราจะพูดถึงภาษาไทย", "tha_Thai");
    // ICU's dictionary segmentation; exact boundaries could move with Node's ICU data, so check
    // the content words and that the function words of Lucene's Thai list are gone.
    for (const w of ["ประชุม", "พูด", "ภาษา", "ไทย"])
      assert.ok(terms.includes(w), `${w} in ${terms.join("|")}`);
    for (const w of ["สำหรับ", "สําหรับ", "การ", "ใน", "เรา", "จะ"]) assert.ok(!terms.includes(w), w);
    assert.ok(terms.length >= 4 && terms.every((t) => t.length < 10), terms.join("|"));
  });

  it("Chinese: ICU word segmentation, no stemming", () => {
    const terms = analyze("北京是中华人民共和国的首都，有两千多年的历史。", "zho_Hans");
    for (const w of ["北京", "首都", "历史"]) assert.ok(terms.includes(w), `${w} in ${terms.join("|")}`);
    assert.ok(terms.length >= 8, terms.join("|"));
    assert.ok(!terms.includes("，") && !terms.includes("。"));
    assert.deepEqual(analyze("北京是中华人民共和国的首都", "zh"), analyze("北京是中华人民共和国的首都"));
  });

  it("Greek and Turkish: Lucene's folding rules before stop words", () => {
    // Accents off and final σ, so the unaccented stop list matches "είναι" and "της".
    assert.deepEqual(analyze("Οι άνθρωποι της πόλεως είναι καλοί.", "ell_Grek"), ["ανθρωπ", "πολ", "καλ"]);
    // Apostrophe suffixes go, and İ/I lower-case the Turkish way.
    assert.deepEqual(analyze("Türkiye'nin başkenti Ankara'dır; İstanbul, IRMAK", "tr"), [
      "türki",
      "başke",
      "ankar",
      "istanbul",
      "ırmak",
    ]);
  });

  it("folds compatibility forms with NFKC and lower-cases like Lucene", () => {
    assert.deepEqual(analyze("Ｈｅｌｌｏ ２０２０ İzmir"), ["hello", "2020", "izmir"]);
    // U+FDFA is one character that NFKC opens into four words.
    assert.deepEqual(analyze("ﷺ"), ["صلى", "الله", "عليه", "وسلم"]);
    assert.deepEqual(analyze("  ...  !? "), []);
  });

  it("without a language (or und, or a language with no stemmer) only segments and normalises", () => {
    const text = "The cats are running";
    assert.deepEqual(analyze(text), ["the", "cats", "are", "running"]);
    assert.deepEqual(analyze(text, "und"), ["the", "cats", "are", "running"]);
    assert.deepEqual(analyze("Các con mèo đang chạy", "vie_Latn"), ["các", "con", "mèo", "đang", "chạy"]);
    assert.equal(analyzerLanguage("vi").stem, null);
    assert.equal(analyzerLanguage("vi").stopwords, null);
    for (const code of ["eng", "deu", "rus", "arb", "hin", "tur", "ell", "spa"])
      assert.ok(STEMMED_LANGUAGES.includes(code));
  });

  it("rejects a language code it cannot resolve, naming it", () => {
    assert.throws(() => analyze("x", "klingon"), /unknown language code "klingon"/);
    assert.throws(() => analyze("x", "xx"), /unknown language code "xx"/);
  });

  it("rejects text that is not a string", () => {
    assert.throws(
      () => analyze(undefined as unknown as string, "en"),
      /text must be a string, got undefined/,
    );
  });

  it("switches stop words and stemming off through its config", () => {
    const text = "The cats were running";
    assert.deepEqual(analyze(text, "en", analyzerConfig({ stemming: false })), ["cats", "were", "running"]);
    assert.deepEqual(analyze(text, "en", analyzerConfig({ stopwords: false })), [
      "the",
      "cat",
      "were",
      "run",
    ]);
    assert.deepEqual(analyze("ABC", "en", analyzerConfig({ lowercase: false })), ["ABC"]);
  });

  it("cuts words longer than maxTokenLength as StandardTokenizer does", () => {
    const long = "a".repeat(600);
    assert.deepEqual(
      analyze(long, undefined).map((t) => t.length),
      [255, 255, 90],
    );
    assert.deepEqual(makeAnalyzer(undefined, analyzerConfig({ maxTokenLength: 4 }))("abcdefghij"), [
      "abcd",
      "efgh",
      "ij",
    ]);
  });

  it("validates configs read back from an index", () => {
    assert.ok(
      sameAnalyzer(checkAnalyzerConfig(JSON.parse(JSON.stringify(DEFAULT_ANALYZER)), "x"), DEFAULT_ANALYZER),
    );
    assert.throws(
      () => checkAnalyzerConfig({ ...DEFAULT_ANALYZER, version: 99 }, "idx"),
      /idx: built with analyzer version 99.*rebuild the index/,
    );
    assert.throws(
      () => checkAnalyzerConfig({ ...DEFAULT_ANALYZER, stemming: "yes" }, "idx"),
      /"stemming" must be true or false/,
    );
    assert.throws(() => analyzerConfig({ maxTokenLength: 0 }), /maxTokenLength must be a positive integer/);
    assert.throws(() => checkAnalyzerConfig(null, "idx"), /must be an object/);
  });

  it("gives the same terms async as sync, on texts of many segmentation windows", async () => {
    const texts: [string, string][] = [
      ["en", "The river floods the old market every winter; don't cross the bridge. "],
      ["th", "แม่น้ำท่วมตลาดเก่าทุกฤดูหนาว"],
      ["zh", "河水每年冬天都会淹没老市场。"],
      ["ru", "Река каждую зиму затопляет старый рынок. "],
    ];
    for (const [lang, sentence] of texts) {
      const text = sentence.repeat(Math.ceil(30_000 / sentence.length));
      const sync = makeAnalyzer(lang)(text);
      assert.deepEqual(await makeAsyncAnalyzer(lang)(text), sync, lang);
      // a sentence that ends cleanly analyses the same however many times it is repeated and cut
      if (lang !== "th") {
        const one = makeAnalyzer(lang)(sentence);
        assert.deepEqual(sync, Array.from({ length: text.length / sentence.length }, () => one).flat(), lang);
      }
    }
  });
});

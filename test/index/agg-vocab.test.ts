// Target token sets (index/agg-vocab.ts) on the tiny Aggretriever fixture, whose tokenizer reads
// the word "w<id>" as token <id>: so the ids a set must hold are read straight off the texts here,
// without the tokenizer. Sets from input files and from a collection, the files' checks, storing
// sets in a collection (never replacing one), and the documents target mode could not encode.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import {
  AGG_VOCAB_DIR,
  buildAggVocab,
  collectionAggVocab,
  docsInLang,
  langsWithoutVocab,
  storeAggVocabs,
  storedAggVocabs,
} from "../../src/index/agg-vocab.ts";
import { LanceStore } from "../../src/index/lance-store.ts";
import {
  type AggVocab,
  checkAggVocabFits,
  readAggVocab,
  writeAggVocab,
} from "../../src/encode/agg-vocab-file.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { readDocuments, type InputDoc } from "../../src/index/ingest.ts";
import { manifestPath, readManifest } from "../../src/index/manifest.ts";
import { aggFixtureFolder, aggFixtureSets } from "../helpers/aggretriever.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-agg-vocab-"));
const model = aggFixtureFolder(aggFixtureSets()[0]);
// a tokenizer that keeps the case, so that lowercasing is the model's doing (its folder's default)
const tokenizerJson = join(model, "tokenizer.json");
const tokenizer = JSON.parse(readFileSync(tokenizerJson, "utf8"));
writeFileSync(
  tokenizerJson,
  JSON.stringify({ ...tokenizer, normalizer: { ...tokenizer.normalizer, lowercase: false } }),
);
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(model, { recursive: true, force: true });
});

/** The ids of "w<id>" words in the texts, lowercased first: what a lowercasing model's set holds. */
const idsOf = (...texts: string[]) =>
  [
    ...new Set(texts.flatMap((t) => [...t.toLowerCase().matchAll(/\bw(\d+)\b/g)].map((m) => Number(m[1])))),
  ].sort((a, b) => a - b);

const UNK = 3;
const docs = [
  { id: "h1", text: "W17 w42 w88", title: "w100", lang: "hi" },
  { id: "h2", text: "w20", lang: "hin_Deva" },
  { id: "e1", text: "w5 w6", lang: "en" },
  { id: "u1", text: "w60", lang: "und" },
  { id: "x1", text: "w30 w31" },
];
const corpus = join(root, "corpus.jsonl");
writeFileSync(corpus, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");

let enc: Encoder;
before(async () => {
  enc = await Encoder.load(model, { threads: 1, agg: { mode: "self" } });
});
after(() => enc.close());

const vocabOf = async (lang: string, e = enc) =>
  (await buildAggVocab(e, lang, docsInLang(readDocuments(corpus), lang))).vocab;

describe("a token set from an input file", () => {
  it("holds the lowercased tokens of the texts and titles in its language, and of rows giving none", async () => {
    const { vocab, documents } = await buildAggVocab(
      enc,
      "hin_Deva",
      docsInLang(readDocuments(corpus), "hin_Deva"),
    );
    assert.equal(documents, 3);
    assert.deepEqual(vocab.ids, idsOf("W17 w42 w88", "w100", "w20", "w30 w31"));
    assert.equal(vocab.size, vocab.ids.length);
    assert.equal(vocab.lowercase, true);
    assert.equal(vocab.tokenizer, enc.tokenizerFingerprint);
  });

  it("counts documents without a determined language for English, as the encoder reads them", async () => {
    assert.deepEqual((await vocabOf("eng_Latn")).ids, idsOf("w5 w6", "w60", "w30 w31"));
  });

  it("keeps the case for a model told not to lowercase", async () => {
    const cased = await Encoder.load(model, { threads: 1, agg: { mode: "self", lowercase: false } });
    try {
      const v = await vocabOf("hin_Deva", cased);
      assert.equal(v.lowercase, false);
      // "W17" is no word of the tokenizer when read as cased: <unk>, which is no word of a language
      assert.deepEqual(v.ids, idsOf("w42 w88", "w100", "w20", "w30 w31"));
      assert.ok(!v.ids.includes(UNK));
    } finally {
      await cased.close();
    }
  });
});

describe("a token set file", () => {
  it("is written atomically and read back as written", async () => {
    const v = await vocabOf("hin_Deva");
    const file = join(root, "hi.json");
    writeAggVocab(file, v);
    assert.deepEqual(readAggVocab(file), v);
    assert.deepEqual(
      readdirSync(root).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });

  it("is refused with a line naming the file when it is no token set", () => {
    const file = join(root, "bad.json");
    const cases: [unknown, RegExp][] = [
      [{ format: "other" }, /not a token set/],
      [
        { format: "xlir-agg-vocab/1", lang: "xx", tokenizer: "t", lowercase: true, size: 1, ids: [4] },
        /lang/,
      ],
      [
        {
          format: "xlir-agg-vocab/1",
          lang: "hin_Deva",
          tokenizer: "t",
          lowercase: true,
          size: 2,
          ids: [5, 4],
        },
        /increasing/,
      ],
      [
        {
          format: "xlir-agg-vocab/1",
          lang: "hin_Deva",
          tokenizer: "t",
          lowercase: true,
          size: 3,
          ids: [4, 5],
        },
        /size/,
      ],
    ];
    for (const [content, why] of cases) {
      writeFileSync(file, JSON.stringify(content));
      assert.throws(
        () => readAggVocab(file),
        (e: Error) => e.message.includes(file) && why.test(e.message),
      );
    }
    assert.throws(() => readAggVocab(join(root, "none.json")), /none\.json \(ENOENT\): check the path/);
  });

  it("must be made with the tokenizer of the model that uses it, from text cased as it reads text", async () => {
    const v = await vocabOf("hin_Deva");
    const model = { id: "M", tokenizer: enc.tokenizerFingerprint, lowercase: true };
    checkAggVocabFits(v, "hi.json", model);
    assert.throws(
      () => checkAggVocabFits({ ...v, tokenizer: "sha256:other" }, "hi.json", model),
      /hi\.json was made with another tokenizer than M's.*xlir agg-vocab --model M --lang hin_Deva/,
    );
    assert.throws(
      () => checkAggVocabFits(v, "hi.json", { ...model, lowercase: false }),
      /made from lowercased text, but M reads text as cased here.*--no-lowercase/,
    );
  });
});

describe("token sets stored in a collection", () => {
  const dir = join(root, "col");
  const given = (v: AggVocab, path = `${v.lang}.json`) => ({ vocab: v, path });

  it("are stored once per language, added later for new languages, never replaced by another set", async () => {
    const hi = await vocabOf("hin_Deva");
    const en = await vocabOf("eng_Latn");
    const store = await LanceStore.open(dir, null, true);
    assert.deepEqual(await storeAggVocabs(store, "c", [given(hi)]), ["hin_Deva"]);
    assert.deepEqual((await storedAggVocabs(store)).get("hin_Deva"), hi);
    assert.deepEqual(await storeAggVocabs(store, "c", [given(hi), given(en)]), ["eng_Latn"]);
    assert.deepEqual([...(await storedAggVocabs(store)).keys()], ["eng_Latn", "hin_Deva"]);
    const other = { ...hi, ids: [4, 5], size: 2 };
    await assert.rejects(
      storeAggVocabs(store, "c", [given(other, "new-hi.json")]),
      /collection "c" already has a token set for hin_Deva \(\d+ ids\), and new-hi\.json differs/,
    );
    assert.deepEqual((await storedAggVocabs(store)).get("hin_Deva"), hi);
    await store.close();
    assert.deepEqual(readdirSync(join(dir, AGG_VOCAB_DIR)).sort(), ["eng_Latn.json", "hin_Deva.json"]);
  });

  it("name the documents' languages that have none, with the first document of each", async () => {
    const input: InputDoc[] = [
      { id: "a", text: "w4", lang: "hi", source: "f:1" },
      { id: "b", text: "w5", source: "f:2" },
      { id: "c", text: "w6", lang: "und", source: "f:3" },
      { id: "d", text: "w7", lang: "de", source: "f:4" },
      { id: "e", text: "w8", lang: "de", source: "f:5" },
    ];
    const store = await LanceStore.open(dir, null);
    const stored = await storedAggVocabs(store);
    await store.close();
    const has = (lang: string) => stored.has(lang);
    const detect = () => Promise.reject(new Error("no document is left to detect"));
    assert.deepEqual(await langsWithoutVocab(input, "fr", has, detect), [
      { lang: "deu_Latn", source: "f:4" },
      { lang: "fra_Latn", source: "f:2" },
    ]);
    assert.deepEqual(await langsWithoutVocab(input.slice(0, 3), "en", has, detect), []);
  });
});

describe("a collection", () => {
  it("gives the token set of its documents in one language", async () => {
    const home = join(root, "home");
    const col = await Collection.openOrCreate("c", { home, model: enc });
    try {
      await addDocuments(col, readDocuments(corpus), { lang: "en" });
      const { vocab, documents } = await collectionAggVocab(enc, col, "hin_Deva");
      assert.equal(documents, 2);
      assert.deepEqual(vocab.ids, idsOf("W17 w42 w88", "w100", "w20"));
      assert.deepEqual(
        (await collectionAggVocab(enc, col, "eng_Latn")).vocab.ids,
        idsOf("w5 w6", "w60", "w30 w31"),
      );
    } finally {
      await col.close();
    }
  });

  it("records the Aggretriever settings, and refuses a manifest with bad ones", () => {
    const dir = join(root, "home", "collections", "c");
    const m = readManifest(dir);
    assert.deepEqual(m.encoder.kind === "dense" && m.encoder.agg, { mode: "self", lowercase: true });
    const raw = JSON.parse(readFileSync(manifestPath(dir), "utf8"));
    raw.encoder.agg = { mode: "sparse", lowercase: true };
    writeFileSync(manifestPath(dir), JSON.stringify(raw));
    assert.throws(() => readManifest(dir), /agg settings need a mode \(mlm, target, self\)/);
  });
});

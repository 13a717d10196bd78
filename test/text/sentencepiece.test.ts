import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fixturesRoot } from "../helpers/shared.ts";
import {
  decodePieces,
  loadMarianTokenizer,
  loadSentencePieceTokenizer,
  parseSentencePieceModel,
  precompiledNormalizer,
  readSentencePieceModel,
  sentencePieceToTokenizerJson,
  sentencePieceTokenizer,
} from "../../src/text/sentencepiece.ts";
import { encodeBatch, tokenizerFromJson } from "../../src/text/tokenizer.ts";
import { buildModel, type ModelSpec, type PieceSpec } from "../helpers/spm.ts";

// ---- the model the hand-worked segmentations below use ------------------------------------

const SPECIALS: PieceSpec[] = [
  ["<unk>", 0, "UNKNOWN"],
  ["<s>", 0, "CONTROL"],
  ["</s>", 0, "CONTROL"],
];
// ids 3..12
const WORDS: PieceSpec[] = [
  ["▁", -2],
  ["▁hell", -3],
  ["o", -3.5],
  ["▁hello", -7],
  ["▁he", -3],
  ["llo", -3.25],
  ["h", -4],
  ["e", -4],
  ["l", -4],
  ["▁world", -4],
];
const ID = Object.fromEntries([...SPECIALS, ...WORDS].map(([p], i) => [p, i]));
const model = (over: Partial<ModelSpec> = {}) =>
  parseSentencePieceModel(buildModel({ pieces: [...SPECIALS, ...WORDS], ...over }), "test.model");

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "xlir-spm-"));
  dirs.push(d);
  return d;
};

describe("SentencePiece model reader", () => {
  it("reads pieces, scores and types", () => {
    const m = parseSentencePieceModel(
      buildModel({
        pieces: [
          ...SPECIALS,
          ["▁a", -1.5],
          ["<sep>", 0, "USER_DEFINED"],
          ["<0x41>", 0, "BYTE"],
          ["x", -9, "UNUSED"],
        ],
      }),
    );
    assert.deepEqual(m.pieces, [
      { piece: "<unk>", score: 0, type: "UNKNOWN" },
      { piece: "<s>", score: 0, type: "CONTROL" },
      { piece: "</s>", score: 0, type: "CONTROL" },
      { piece: "▁a", score: -1.5, type: "NORMAL" },
      { piece: "<sep>", score: 0, type: "USER_DEFINED" },
      { piece: "<0x41>", score: 0, type: "BYTE" },
      { piece: "x", score: -9, type: "UNUSED" },
    ]);
  });

  it("reads trainer_spec and normalizer_spec, with proto defaults for absent fields", () => {
    const m = model();
    assert.equal(m.trainerSpec.modelType, "UNIGRAM");
    assert.equal(m.trainerSpec.vocabSize, 13);
    assert.deepEqual(
      [m.trainerSpec.unkId, m.trainerSpec.bosId, m.trainerSpec.eosId, m.trainerSpec.padId],
      [0, 1, 2, -1],
    );
    assert.equal(m.trainerSpec.byteFallback, false);
    assert.equal(m.trainerSpec.unkPiece, "<unk>");
    assert.deepEqual(
      [
        m.normalizerSpec.addDummyPrefix,
        m.normalizerSpec.removeExtraWhitespaces,
        m.normalizerSpec.escapeWhitespaces,
      ],
      [true, true, true],
    );
    assert.equal(m.normalizerSpec.precompiledCharsmap.length, 0);

    const n = model({
      padId: -1,
      byteFallback: true,
      modelType: 2,
      name: "nmt_nfkc",
      charsmap: [1, 2, 3, 250],
      addDummyPrefix: false,
      removeExtraWhitespaces: false,
    });
    assert.equal(n.trainerSpec.padId, -1, "a negative int32 (10-byte varint)");
    assert.equal(n.trainerSpec.modelType, "BPE");
    assert.equal(n.trainerSpec.byteFallback, true);
    assert.equal(n.normalizerSpec.name, "nmt_nfkc");
    assert.deepEqual([...n.normalizerSpec.precompiledCharsmap], [1, 2, 3, 250]);
    assert.equal(n.normalizerSpec.addDummyPrefix, false);
    assert.equal(n.normalizerSpec.removeExtraWhitespaces, false);
  });

  it("rejects corrupt files in one line naming the file", () => {
    const dir = tempDir();
    const file = join(dir, "source.spm");
    writeFileSync(file, new Uint8Array([0x0a, 0x7f, 0x0a]));
    assert.throws(
      () => readSentencePieceModel(file),
      (e: Error) =>
        e.message.includes(file) && e.message.includes("re-download") && !e.message.includes("\n"),
    );
    writeFileSync(file, "{ this is json, not a model }");
    assert.throws(() => readSentencePieceModel(file), /not a valid SentencePiece model/);
    assert.throws(() => readSentencePieceModel(join(dir, "missing.spm")), /missing\.spm does not exist/);
    assert.throws(
      () => sentencePieceTokenizer(model({ charsmap: [1, 2, 3, 250] })),
      /corrupt precompiled_charsmap/,
    );
    // an unk_id that points at a normal piece
    assert.throws(() => model({ unkId: 3 }), /unk_id 3/);
  });

  it("refuses BPE models for the unigram conversion with a way out", () => {
    assert.throws(
      () => sentencePieceToTokenizerJson(model({ modelType: 2 }), "x.model"),
      /x\.model is a BPE/,
    );
  });
});

describe("SentencePiece unigram tokenization", () => {
  const tok = sentencePieceTokenizer(model());

  it("loads through tokenizerFromJson", () => {
    const t = tokenizerFromJson(sentencePieceToTokenizerJson(model()));
    assert.equal(t.modelType, "Unigram");
    assert.deepEqual(t.encodeText("hello world"), [ID["▁he"], ID["llo"], ID["▁world"]]);
  });

  it("picks the segmentation with the highest total score", () => {
    // "▁hello": ▁hello -7, ▁hell+o -6.5, ▁he+llo -6.25, ▁+h+e+llo -13.25 -> ▁he llo
    assert.deepEqual(tok.tokenize("hello"), ["▁he", "llo"]);
    assert.deepEqual(tok.encodeText("hello"), [ID["▁he"], ID["llo"]]);
    // raise ▁hello to -6 and it beats -6.25
    const better = sentencePieceTokenizer(
      model({ pieces: [...SPECIALS, ...WORDS.map(([p, s]): PieceSpec => [p, p === "▁hello" ? -6 : s])] }),
    );
    assert.deepEqual(better.encodeText("hello"), [ID["▁hello"]]);
    // drop llo and ▁hell+o (-6.5) beats ▁hello (-7) and ▁he+l+l+o (-14.5)
    const noLlo = sentencePieceTokenizer(
      model({ pieces: [...SPECIALS, ...WORDS.map(([p, s]): PieceSpec => [p === "llo" ? "qqq" : p, s])] }),
    );
    assert.deepEqual(noLlo.tokenize("hello"), ["▁hell", "o"]);
  });

  it("adds the dummy prefix and collapses and strips whitespace", () => {
    const want = [ID["▁he"], ID["llo"], ID["▁world"]];
    assert.deepEqual(tok.encodeText("hello world"), want);
    assert.deepEqual(tok.encodeText("  hello   world  "), want);
    // the identity rule set keeps a tab as it is: "\tw", "r" and "d" are unknown, one <unk> per run
    assert.deepEqual(tok.encodeText("hello\tworld"), [ID["▁he"], ID["llo"], 0, ID["o"], 0, ID["l"], 0]);
    assert.deepEqual(tok.encodeText(""), []);
    // without the dummy prefix "hello" starts with no "▁": h + e + llo (-11.25)
    const bare = sentencePieceTokenizer(model({ addDummyPrefix: false }));
    assert.deepEqual(bare.tokenize("hello world"), ["h", "e", "llo", "▁world"]);
  });

  it("gives <unk> for characters no piece covers, one per run", () => {
    // unknown score is min score (-7) - 10, so any covering path wins where one exists
    // "▁hellø": ▁hell + <unk> (-20) beats ▁he + l + l + <unk> (-28)
    assert.deepEqual(tok.encodeText("hellø world"), [ID["▁hell"], 0, ID["▁world"]]);
    assert.deepEqual(tok.tokenize("hello øø"), ["▁he", "llo", "▁", "øø"]);
    assert.deepEqual(tok.encodeText("hello øø"), [ID["▁he"], ID["llo"], ID["▁"], 0]);
  });

  it("falls back to byte pieces when the model says so", () => {
    const bytePieces: PieceSpec[] = Array.from({ length: 256 }, (_, b) => [
      `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`,
      0,
      "BYTE",
    ]);
    const m = model({ pieces: [...SPECIALS, ...WORDS, ...bytePieces], byteFallback: true });
    const t = sentencePieceTokenizer(m);
    const byteId = (b: number) => SPECIALS.length + WORDS.length + b;
    // "▁hø": ▁ + h (-6), then ø = C3 B8 as bytes
    const ids = t.encodeText("hø");
    assert.deepEqual(ids, [ID["▁"], ID["h"], byteId(0xc3), byteId(0xb8)]);
    assert.equal(t.decode(ids), "hø");
  });

  it("decodes like sentencepiece", () => {
    const m = model();
    assert.equal(tok.decode([ID["▁he"], ID["llo"], ID["▁world"]]), "hello world");
    assert.equal(tok.decode([1, ID["▁he"], ID["llo"], 2]), "hello", "control pieces vanish");
    assert.equal(decodePieces(m, ["▁he", "<unk>", "llo"]), "he ⁇ llo");
    assert.equal(decodePieces(m, ["▁bon", "jour"]), "bonjour", "pieces the model lacks are kept");
  });
});

describe("Marian (opus-mt) tokenizer", () => {
  const targetPieces: PieceSpec[] = [...SPECIALS, ["▁bonjour", -3], ["▁le", -2], ["▁monde", -3], ["▁", -2]];
  const vocab = {
    "</s>": 0,
    "<unk>": 1,
    "▁he": 2,
    llo: 3,
    "▁world": 4,
    "▁bonjour": 5,
    "▁le": 6,
    "▁monde": 7,
    ">>fra<<": 8,
    "<pad>": 9,
  };
  const marianDir = (config?: object): string => {
    const dir = tempDir();
    writeFileSync(join(dir, "source.spm"), buildModel({ pieces: [...SPECIALS, ...WORDS] }));
    writeFileSync(join(dir, "target.spm"), buildModel({ pieces: targetPieces }));
    writeFileSync(join(dir, "vocab.json"), JSON.stringify(vocab));
    if (config) writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
    return dir;
  };

  it("encodes source text to vocab.json ids ending in </s>", () => {
    const tok = loadMarianTokenizer(marianDir());
    assert.deepEqual(tok.encode("hello world"), [2, 3, 4, 0]);
    // "▁" and "øø" are not in vocab.json
    assert.deepEqual(tok.tokenize("hello øø"), ["▁he", "llo", "▁", "øø"]);
    assert.deepEqual(tok.encode("hello øø"), [2, 3, 1, 1, 0]);
    assert.deepEqual(tok.encode(">>fra<< hello"), [8, 2, 3, 0]);
    assert.deepEqual([tok.eosId, tok.unkId, tok.padId], [0, 1, 9]);
    assert.equal(tok.vocabSize, 10);
    assert.equal(tok.modelMaxLength, 512);
  });

  it("works with encodeBatch: truncation keeps </s>", () => {
    const tok = loadMarianTokenizer(marianDir({ model_max_length: 3 }));
    const out = encodeBatch(tok, ["hello world", "hello"]);
    assert.deepEqual(out.ids, [
      [2, 3, 0],
      [2, 3, 0],
    ]);
    assert.deepEqual(out.truncated, [true, false]);
    assert.match(tok.fingerprint, /^sha256:/);
  });

  it("decodes target ids back to text", () => {
    const tok = loadMarianTokenizer(marianDir());
    assert.equal(tok.decode([5, 6, 7, 0, 9, 9]), "bonjour le monde");
    assert.equal(tok.decode([9, 5, 1, 7, 0]), "bonjour monde");
    assert.equal(tok.decode([5, 6, 7, 0, 9], { skipSpecialTokens: false }), "bonjour le monde</s> <pad>");
    assert.equal(tok.decode([5, 42]), "bonjour", "ids outside vocab.json are <unk>");
  });

  it("names the missing file and the fix", () => {
    const dir = marianDir();
    rmSync(join(dir, "vocab.json"));
    assert.throws(
      () => loadMarianTokenizer(dir),
      (e: Error) => e.message.startsWith("no vocab.json in ") && e.message.includes("download"),
    );
    writeFileSync(join(dir, "vocab.json"), JSON.stringify({ "</s>": 0, "<pad>": 1 }));
    assert.throws(() => loadMarianTokenizer(dir), /vocab\.json has no "<unk>" entry/);
  });
});

// Real SentencePiece models shipped with the project's fixtures, with the pieces and ids that the
// sentencepiece library gave for each case.
describe("SentencePiece fixtures (expected sentencepiece ids)", () => {
  const root = join(fixturesRoot, "tokenizers");
  const found = existsSync(root)
    ? readdirSync(root, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .flatMap((e) => {
          const dir = join(root, e.name);
          const model = readdirSync(dir).find((f) => f.endsWith(".model"));
          return model && existsSync(join(dir, "cases.json")) ? [{ dir, model: join(dir, model) }] : [];
        })
    : [];
  for (const { dir, model: file } of found) {
    const { cases } = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as {
      cases: { text: string; kind: string; spm_pieces?: string[]; spm_ids?: number[] }[];
    };
    const withIds = cases.filter((c) => c.spm_ids && c.spm_pieces);
    if (!withIds.length) continue;
    it(`${file.split(/[\\/]/).slice(-2).join("/")}: runs its own charsmap`, () => {
      const spec = readSentencePieceModel(file).normalizerSpec;
      if (spec.name !== "nmt_nfkc") return;
      const normalize = precompiledNormalizer(spec.precompiledCharsmap);
      assert.equal(normalize("Ｈｅｌｌｏ　ｗｏｒｌｄ ① ﬁ"), "Hello world 1 fi");
      // nmt_nfkc keeps the zero-width joiner, which NFKC-plus-space-rules would turn into a space
      assert.equal(normalize("a\u200db"), "a\u200db");
    });
    it(`${file.split(/[\\/]/).slice(-2).join("/")}: matches pieces and ids of ${withIds.length} cases`, () => {
      const tok = loadSentencePieceTokenizer(file);
      for (const c of withIds) {
        assert.deepEqual(tok.tokenize(c.text), c.spm_pieces, `${c.kind}: ${JSON.stringify(c.text)}`);
        assert.deepEqual(tok.encodeText(c.text), c.spm_ids, `${c.kind}: ${JSON.stringify(c.text)}`);
      }
    });
  }
});

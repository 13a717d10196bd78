// ColBERT-XM parity with the reference in <fixtures>/colbert-xm* (every set found there; none is a
// failure): X-MOD hidden states for every language adapter and a mixed-language batch, ColBERT
// query / document tokenization (current, attend_to_mask_tokens false, legacy), per-token query
// and document vectors for every adapter, and the MaxSim score matrices of every (query language,
// document language) pair, within the tolerances of the fixture's README. Also the text path
// (a tokenizer.json) against the id path, and the language-code resolution.

import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  type ColbertVocab,
  ColbertModel,
  documentRows,
  maxSimMatrix,
  queryRows,
  type TokenVectors,
} from "../../src/encode/colbert.ts";
import { Checkpoint } from "../../src/models/checkpoint.ts";
import { encoderGraph } from "../../src/models/encoder-graph.ts";
import { writeRobertaWordTokenizer } from "../../src/text/wordpiece-json.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const TOL = { hidden: 2e-5, vectors: 1e-5, scores: 5e-5 };

const sets = existsSync(fixturesRoot)
  ? readdirSync(fixturesRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name.startsWith("colbert-xm"))
      .map((e) => join(fixturesRoot, e.name))
      .filter((d) => existsSync(join(d, "cases.json")))
  : [];

test("colbert-xm fixture sets are present", () =>
  assert.ok(sets.length > 0, `no colbert-xm*/cases.json under ${fixturesRoot}`));

type Nested = number | Nested[];
const flat = (x: Nested): number[] => (Array.isArray(x) ? x.flatMap(flat) : [Math.fround(x)]);
function close(got: ArrayLike<number>, want: Nested, tol: number, what: string): number {
  const w = flat(want);
  assert.equal(got.length, w.length, `${what}: size`);
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(got[i] - w[i]));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst} > ${tol}`);
  return worst;
}
const worst: Record<string, number> = {};
const note = (k: string, v: number) => (worst[k] = Math.max(worst[k] ?? 0, v));

/** Full [n, L, dim] from kept rows, zero elsewhere (the reference's D layout). */
function fullDocs(docs: TokenVectors[], L: number, dim: number): Float32Array {
  const out = new Float32Array(docs.length * L * dim);
  docs.forEach((d, b) =>
    d.positions.forEach((j, r) => out.set(d.vectors.subarray(r * dim, (r + 1) * dim), (b * L + j) * dim)),
  );
  return out;
}

/**
 * The fixture's vocabulary as lookups: vocab_tokens for token -> id, and text encoding only for what
 * the README states of the tiny SentencePiece imitation (lone "." and "," are "▁" + piece, "-" and
 * "?" one piece, other punctuation "▁" + <unk>), which is all the skiplist and ". " need.
 */
function fixtureVocab(ref: { vocab_tokens: Record<string, string> }): ColbertVocab {
  const ids = new Map(Object.entries(ref.vocab_tokens).map(([id, t]) => [t, Number(id)]));
  const space = ids.get("▁")!;
  const unk = ids.get("<unk>")!;
  return {
    tokenToId: (t) => ids.get(t),
    encodeText: (text) => {
      const pieces: number[] = [];
      for (const word of text.split(/\s+/).filter(Boolean))
        for (const c of word) {
          if (c === "-" || c === "?") pieces.push(ids.get(c)!);
          else pieces.push(space, ids.get(c) ?? unk);
        }
      return pieces;
    },
  };
}

const tmp: string[] = [];
after(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

for (const dir of sets) {
  const ref = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8"));
  const cb = ref.colbert;
  const langs: string[] = ref.model.languages;
  const vocab = fixtureVocab(ref);

  test(`colbert-xm parity: ${dir}`, async (t) => {
    const model = await ColbertModel.load(dir, { vocab, threads: 1 });
    try {
      await t.test('spec: markers, specials, skiplist, ". " ids', () => {
        const s = model.spec;
        assert.deepEqual(
          [s.queryMarkerId, s.docMarkerId, s.clsId, s.sepId, s.padId, s.maskId],
          [cb.query_marker_id, cb.doc_marker_id, cb.cls_id, cb.sep_id, cb.pad_id, cb.mask_id],
        );
        assert.deepEqual([s.queryMaxlen, s.docMaxlen, s.dim], [cb.query_maxlen, cb.doc_maxlen, cb.dim]);
        assert.equal(s.attendToMaskTokens, cb.attend_to_mask_tokens);
        assert.deepEqual(
          s.skiplist,
          [...cb.skiplist_ids].sort((a: number, b: number) => a - b),
        );
        assert.deepEqual(s.dotPrefixIds, ref.legacy_tokenization.dot_prefix_ids);
        assert.deepEqual(model.languages, langs);
      });

      await t.test("backbone: every adapter, and a mixed batch row by row", async () => {
        const bb = ref.backbone;
        const rows = { inputIds: bb.input_ids, attentionMask: bb.attention_mask };
        for (const lang of langs) {
          const out = await model.forward(rows, lang);
          note(
            "hidden",
            close(out.lastHiddenState, bb.by_language[lang].last_hidden_state, TOL.hidden, lang),
          );
        }
        const mixed = bb.mixed_lang_ids;
        const H = ref.model.hidden_size;
        const L = bb.input_ids[0].length;
        for (let b = 0; b < mixed.lang_ids.length; b++) {
          const lang = langs[mixed.lang_ids[b]];
          assert.equal(lang, mixed.languages[b]);
          const out = await model.forward(
            { inputIds: [bb.input_ids[b]], attentionMask: [bb.attention_mask[b]] },
            lang,
          );
          const want = flat(mixed.last_hidden_state).slice(b * L * H, (b + 1) * L * H);
          note("hidden", close(out.lastHiddenState, want, TOL.hidden, `mixed row ${b} (${lang})`));
        }
      });

      const q = ref.queries;
      const d = ref.documents;
      const Q: Record<string, TokenVectors[]> = {};
      const D: Record<string, TokenVectors[]> = {};

      await t.test("queries: ids, masks, hidden states, Q for every adapter", async () => {
        const rows = queryRows(q.raw, model.spec);
        assert.deepEqual(rows.inputIds, q.input_ids);
        assert.deepEqual(rows.attentionMask, q.attention_mask);
        assert.deepEqual(rows.tokenizerAttentionMask, q.tokenizer_attention_mask);
        const h = await model.forward(rows, q.last_hidden_state_language);
        note(
          "hidden",
          close(h.lastHiddenState, q.last_hidden_state, TOL.hidden, "queries last_hidden_state"),
        );
        for (const lang of langs) {
          Q[lang] = await model.encodeQueries(q.raw, { lang });
          Q[lang].forEach((v, i) => {
            assert.deepEqual(v.ids, q.input_ids[i]);
            assert.deepEqual(v.dims, [cb.query_maxlen, cb.dim]);
          });
          const all = Float32Array.from(Q[lang].flatMap((v) => [...v.vectors]));
          note("vectors", close(all, q.by_language[lang].Q, TOL.vectors, `Q ${lang}`));
        }
      });

      await t.test("documents: ids, masks, keep mask, hidden states, D for every adapter", async () => {
        const rows = documentRows(d.raw, model.spec);
        assert.deepEqual(rows.inputIds, d.input_ids);
        assert.deepEqual(rows.attentionMask, d.attention_mask);
        assert.deepEqual(rows.keepMask, d.keep_mask);
        const h = await model.forward(rows, d.last_hidden_state_language);
        note(
          "hidden",
          close(h.lastHiddenState, d.last_hidden_state, TOL.hidden, "documents last_hidden_state"),
        );
        const L = d.input_ids[0].length;
        for (const lang of langs) {
          D[lang] = await model.encodeDocuments(d.raw, { lang });
          assert.deepEqual(
            D[lang].map((v) => v.dims[0]),
            d.kept_lengths,
          );
          D[lang].forEach((v, i) =>
            assert.deepEqual(
              v.ids,
              d.input_ids[i].filter((_: number, j: number) => d.keep_mask[i][j]),
            ),
          );
          note(
            "vectors",
            close(fullDocs(D[lang], L, cb.dim), d.by_language[lang].D, TOL.vectors, `D ${lang}`),
          );
        }
      });

      await t.test("MaxSim scores: every (query language, document language) pair", () => {
        assert.equal(ref.scores.length, langs.length * langs.length);
        for (const s of ref.scores) {
          assert.equal(s.same_language, s.query_language === s.document_language);
          const got = maxSimMatrix(Q[s.query_language], D[s.document_language]).flat();
          const what = `scores ${s.query_language} x ${s.document_language}`;
          note("scores", close(got, s.scores, TOL.scores, what));
          note("scores_vs_float64", close(got, s.float64, TOL.scores, `${what} (float64)`));
        }
      });

      await t.test("language codes select adapters; a missing one is refused", async () => {
        const want: Record<string, string> = {
          hin_Deva: "hi_IN",
          hi: "hi_IN",
          swh_Latn: "sw_KE",
          sw: "sw_KE",
          deu_Latn: "de_DE",
          de: "de_DE",
          eng_Latn: "en_XX",
          en: "en_XX",
          "de-DE": "de_DE",
        };
        for (const [code, name] of Object.entries(want))
          if (langs.includes(name)) assert.equal(model.adapterFor(code), name, code);
        assert.equal(model.adapterFor(undefined), ref.model.default_language);
        assert.throws(
          () => model.adapterFor("tlh"),
          new RegExp(`has no X-MOD adapter in this model; available: ${langs.join(", ")}`),
        );
        if (!langs.includes("fr_XX")) {
          assert.throws(() => model.adapterFor("fra_Latn"), /"fra_Latn" has no X-MOD adapter/);
        }
        // per-text languages: grouped by adapter, each text as in a batch of its own language
        const per = q.raw.map((_: unknown, i: number) => langs[i % langs.length]);
        const mixed = await model.encodeQueries(q.raw, { lang: per });
        mixed.forEach((v, i) =>
          close(v.vectors, [...Q[per[i]][i].vectors], TOL.vectors, `per-text lang ${i}`),
        );
      });
    } finally {
      await model.close();
    }
  });

  test(`colbert-xm parity: ${dir}: attend_to_mask_tokens false`, async () => {
    const c = ref.queries_attend_to_mask_tokens_false;
    const model = await ColbertModel.load(dir, { vocab, threads: 1, attendToMaskTokens: false });
    try {
      const rows = queryRows(ref.queries.raw, model.spec, { attendToMaskTokens: false });
      assert.deepEqual(rows.inputIds, c.input_ids);
      assert.deepEqual(rows.attentionMask, c.attention_mask);
      const Q = await model.encodeQueries(ref.queries.raw, { lang: c.language });
      note("vectors", close(Float32Array.from(Q.flatMap((v) => [...v.vectors])), c.Q, TOL.vectors, "Q"));
      const D = await model.encodeDocuments(ref.documents.raw, { lang: c.language });
      note("scores", close(maxSimMatrix(Q, D).flat(), c.scores, TOL.scores, "scores"));
      close(maxSimMatrix(Q, D).flat(), c.float64, TOL.scores, "scores (float64)");
    } finally {
      await model.close();
    }
  });

  test(`colbert-xm parity: ${dir}: legacy tokenization`, async () => {
    const c = ref.legacy_tokenization;
    const model = await ColbertModel.load(dir, { vocab, threads: 1, legacyTokenization: true });
    try {
      const dot = c.dot_prefix_ids as number[];
      const withDot = (raw: number[][]) => raw.map((r) => [...dot, ...r]);
      const qr = queryRows(withDot(ref.queries.raw), model.spec, { legacy: true });
      assert.deepEqual(qr.inputIds, c.queries.input_ids);
      assert.deepEqual(qr.attentionMask, c.queries.attention_mask);
      const dr = documentRows(withDot(ref.documents.raw), model.spec, { legacy: true });
      assert.deepEqual(dr.inputIds, c.documents.input_ids);
      assert.deepEqual(dr.attentionMask, c.documents.attention_mask);
      assert.deepEqual(dr.keepMask, c.documents.keep_mask);
      const Q = await model.encodeQueries(ref.queries.raw, { lang: c.language });
      Q.forEach((v, i) => assert.deepEqual(v.ids, c.queries.input_ids[i]));
      note(
        "vectors",
        close(Float32Array.from(Q.flatMap((v) => [...v.vectors])), c.queries.Q, TOL.vectors, "Q"),
      );
      const D = await model.encodeDocuments(ref.documents.raw, { lang: c.language });
      const L = c.documents.input_ids[0].length;
      note("vectors", close(fullDocs(D, L, ref.colbert.dim), c.documents.D, TOL.vectors, "D"));
      note("scores", close(maxSimMatrix(Q, D).flat(), c.scores, TOL.scores, "scores"));
      close(maxSimMatrix(Q, D).flat(), c.float64, TOL.scores, "scores (float64)");
    } finally {
      await model.close();
    }
  });

  test(`colbert-xm: ${dir}: texts through a tokenizer.json give the id path's vectors`, async () => {
    const folder = mkdtempSync(join(tmpdir(), "xlir-colbert-"));
    tmp.push(folder);
    for (const f of ["config.json", "model.safetensors", "artifact.metadata", "special_tokens_map.json"])
      cpSync(join(dir, f), join(folder, f));
    const V = ref.model.vocab_size;
    // a word per id: "w17" is token 17; <s> <pad> </s> <unk> at 0..3 and <mask> last, as the fixture
    writeRobertaWordTokenizer(
      folder,
      Array.from({ length: V - 5 }, (_, i) => `w${i + 4}`),
      { mask: true },
    );
    // the word tokenizer has no punctuation pieces: the skiplist is given
    const model = await ColbertModel.load(folder, { threads: 1, skiplist: ref.colbert.skiplist_ids });
    const text = (ids: number[]) => ids.map((i) => `w${i}`).join(" ");
    try {
      assert.equal(model.spec.maskId, ref.colbert.mask_id);
      const lang = ref.model.languages[1] ?? ref.model.default_language;
      const fromText = await model.encodeQueries(ref.queries.raw.map(text), { lang });
      const fromIds = await model.encodeQueries(ref.queries.raw, { lang });
      fromText.forEach((v, i) => {
        assert.deepEqual(v.ids, fromIds[i].ids);
        assert.deepEqual(v.vectors, fromIds[i].vectors);
      });
      const docText = await model.encodeDocuments(ref.documents.raw.map(text), { lang });
      const docIds = await model.encodeDocuments(ref.documents.raw, { lang });
      docText.forEach((v, i) => {
        assert.deepEqual(v.ids, docIds[i].ids);
        assert.deepEqual(v.vectors, docIds[i].vectors);
      });
    } finally {
      await model.close();
    }
  });

  test(`colbert-xm: ${dir}: the plain encoder refuses an X-MOD checkpoint`, () => {
    const ck = Checkpoint.open(dir);
    try {
      assert.throws(() => encoderGraph(ck, { pooling: "mean", normalize: false }), /X-MOD checkpoint/);
    } finally {
      ck.close();
    }
  });
}

after(() => {
  if (Object.keys(worst).length) console.log(`colbert-xm worst |diff|: ${JSON.stringify(worst)}`);
});

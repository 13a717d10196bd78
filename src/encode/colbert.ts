// ColBERT inference (colbert-ai checkpoints; ColBERT-XM = HF_ColBERT over X-MOD): texts or token
// ids in, per-token unit vectors out, and MaxSim. shared/fixtures/colbert-xm/README.md states the
// rules this follows exactly:
// * query row = <s> [Q] t1..tk </s>, k <= query_maxlen - 3, then every <pad> up to query_maxlen
//   becomes <mask> ([MASK] augmentation), attended when attend_to_mask_tokens; every position gets
//   a vector. Document row = <s> [D] t1..tk </s>, k <= doc_maxlen - 3, right-padded to the batch's
//   longest; only the rows whose id is neither <pad> nor in the punctuation skiplist are kept.
//   `legacyTokenization` (colbert-ai before 2024-08, what ColBERT-XM was trained with): the text is
//   prefixed with ". ", cut at query_maxlen - 2 (doc_maxlen - 2) tokens, and position 1 is
//   overwritten by the marker.
// * markers ([Q]/[D] = artifact.metadata's query_token_id / doc_token_id, "[unused0]"/"[unused1]"
//   by default) go through the vocabulary with the <unk> fallback, as transformers'
//   convert_tokens_to_ids does: XLM-R has no [unused0], so both are <unk> for ColBERT-XM.
// * skiplist (mask_punctuation) = the FIRST id of the encoding of each character of Python's
//   string.punctuation (for XLM-R often the lone "▁" piece, not the punctuation itself).
// * S(q, d) = sum over all query positions of the max over kept document rows of the dot product.
// Language (X-MOD): one adapter per text, `lang` one for all texts or one per text (FLORES/NLLB,
// 2-letter or xx_XX codes; models/xmod-langs.ts); texts are grouped by adapter and each batch
// runs the one session with that adapter's weights fed as inputs (models/xmod.ts says why).
// xm-retrievers itself uses one adapter (the collection's language) for documents AND queries.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Checkpoint } from "../models/checkpoint.ts";
import { colbertDim, colbertGraph } from "../models/colbert.ts";
import { adapterFeeds } from "../models/xmod.ts";
import { resolveXmodLanguage } from "../models/xmod-langs.ts";
import type { TensorData } from "../tensor/graph.ts";
import type { Session } from "../tensor/session.ts";
import type { TextTokenizer } from "../text/tokenizer.ts";
import { modelFingerprint } from "../weights/fingerprint.ts";
import type { ResolveOptions } from "../weights/hub.ts";

/** A colbert-ai checkpoint folder: it has artifact.metadata (resolveModel fetches it with a hub id's files). */
export function isColbertFolder(idOrDir: string): boolean {
  return existsSync(join(idOrDir, "artifact.metadata"));
}

/** Python's string.punctuation, what colbert-ai's skiplist is made of. */
export const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/** What tokenization and scoring need, resolved to ids. */
export interface ColbertSpec {
  dim: number;
  queryMaxlen: number;
  docMaxlen: number;
  attendToMaskTokens: boolean;
  queryMarkerId: number;
  docMarkerId: number;
  clsId: number;
  sepId: number;
  padId: number;
  maskId: number;
  /** Document ids dropped (mask_punctuation); [] when it is off. */
  skiplist: number[];
  /** The ids of ". " (legacy tokenization of token-id input); null when unknown. */
  dotPrefixIds: number[] | null;
}

/** artifact.metadata fields that matter for inference (colbert-ai ColBERTConfig, its defaults). */
export interface ColbertMetadata {
  dim: number;
  query_maxlen: number;
  doc_maxlen: number;
  attend_to_mask_tokens: boolean;
  mask_punctuation: boolean;
  query_token_id: string;
  doc_token_id: string;
  similarity: string;
  interaction: string;
}

const METADATA_DEFAULTS: ColbertMetadata = {
  dim: 128,
  query_maxlen: 32,
  doc_maxlen: 180,
  attend_to_mask_tokens: false,
  mask_punctuation: true,
  query_token_id: "[unused0]",
  doc_token_id: "[unused1]",
  similarity: "cosine",
  interaction: "colbert",
};

/** `<dir>/artifact.metadata` (colbert-ai's ColBERTConfig JSON) over colbert-ai's defaults. */
export function readColbertMetadata(dir: string): ColbertMetadata {
  const file = join(dir, "artifact.metadata");
  if (!existsSync(file)) return { ...METADATA_DEFAULTS };
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message}); re-download the checkpoint`, {
      cause: e,
    });
  }
  const out: Record<string, unknown> = { ...METADATA_DEFAULTS };
  for (const [k, dflt] of Object.entries(METADATA_DEFAULTS)) {
    const v = raw[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== typeof dflt || (typeof v === "number" && !(Number.isInteger(v) && v > 0)))
      throw new Error(
        `${file}: "${k}" must be ${typeof dflt === "number" ? "a positive integer" : `a ${typeof dflt}`}, got ${JSON.stringify(v)}`,
      );
    out[k] = v;
  }
  const m = out as unknown as ColbertMetadata;
  if (m.interaction !== "colbert")
    throw new Error(`${file}: interaction "${m.interaction}" is not supported (only "colbert")`);
  if (m.similarity !== "cosine")
    throw new Error(`${file}: similarity "${m.similarity}" is not supported (only "cosine")`);
  return m;
}

/** Token-to-id lookups (a tokenizer, or a table when the folder has no tokenizer.json). */
export interface ColbertVocab {
  tokenToId(token: string): number | undefined;
  /** The ids of a text without special tokens; absent for a bare table (ids-only use). */
  encodeText?(text: string): number[];
}

/** special_tokens_map.json's token strings (a value may be a string or {content}). */
export function specialTokens(dir: string): Record<string, string> {
  const file = join(dir, "special_tokens_map.json");
  const out: Record<string, string> = {
    cls_token: "<s>",
    sep_token: "</s>",
    pad_token: "<pad>",
    mask_token: "<mask>",
    unk_token: "<unk>",
  };
  if (!existsSync(file)) return out;
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === "string") out[k] = v;
    else if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string")
      out[k] = (v as { content: string }).content;
  }
  return out;
}

/** Resolves the ids of a ColBERT checkpoint (markers with the <unk> fallback, skiplist, specials). */
export function colbertSpec(
  meta: ColbertMetadata,
  vocab: ColbertVocab,
  specials: Record<string, string>,
  opts: { skiplist?: readonly number[]; dotPrefixIds?: readonly number[]; source?: string } = {},
): ColbertSpec {
  const src = opts.source ?? "the ColBERT checkpoint";
  const id = (name: string) => {
    const tok = specials[name];
    const v = tok === undefined ? undefined : vocab.tokenToId(tok);
    if (v === undefined)
      throw new Error(
        `${src}: the vocabulary has no ${name} ${JSON.stringify(tok)}; check special_tokens_map.json`,
      );
    return v;
  };
  const unk = id("unk_token");
  const marker = (t: string) => vocab.tokenToId(t) ?? unk;
  let skiplist: number[] = [];
  if (meta.mask_punctuation) {
    if (opts.skiplist) skiplist = [...opts.skiplist];
    else if (vocab.encodeText) {
      const set = new Set<number>();
      for (const c of PUNCTUATION) {
        const ids = vocab.encodeText(c);
        if (ids.length) set.add(ids[0]);
      }
      skiplist = [...set].sort((a, b) => a - b);
    } else
      throw new Error(
        `${src}: mask_punctuation needs a tokenizer.json to find the punctuation ids; put it in the folder or give the skiplist ids`,
      );
  }
  const dot = opts.dotPrefixIds ?? vocab.encodeText?.(". ");
  return {
    dim: meta.dim,
    queryMaxlen: meta.query_maxlen,
    docMaxlen: meta.doc_maxlen,
    attendToMaskTokens: meta.attend_to_mask_tokens,
    queryMarkerId: marker(meta.query_token_id),
    docMarkerId: marker(meta.doc_token_id),
    clsId: id("cls_token"),
    sepId: id("sep_token"),
    padId: id("pad_token"),
    maskId: id("mask_token"),
    skiplist,
    dotPrefixIds: dot ? [...dot] : null,
  };
}

/** Token rows of a batch: ids and attention (and, documents, which rows are kept). */
export interface ColbertRows {
  inputIds: number[][];
  attentionMask: number[][];
}

function wrap(
  body: readonly number[],
  maxlen: number,
  spec: ColbertSpec,
  marker: number,
  legacy: boolean,
): number[] {
  if (legacy) {
    // ". " + text cut to maxlen with <s> </s>, then position 1 (the "▁" or "." piece) := marker
    const row = [spec.clsId, ...body.slice(0, maxlen - 2), spec.sepId];
    row[1] = marker;
    return row;
  }
  return [spec.clsId, marker, ...body.slice(0, maxlen - 3), spec.sepId];
}

/** `bodies` = each text's ids without special tokens (legacy: with the ". " prefix ids in front). */
export function queryRows(
  bodies: readonly (readonly number[])[],
  spec: ColbertSpec,
  opts: { legacy?: boolean; attendToMaskTokens?: boolean } = {},
): ColbertRows & { tokenizerAttentionMask: number[][] } {
  const L = spec.queryMaxlen;
  const attend = opts.attendToMaskTokens ?? spec.attendToMaskTokens;
  const out = {
    inputIds: [] as number[][],
    attentionMask: [] as number[][],
    tokenizerAttentionMask: [] as number[][],
  };
  for (const b of bodies) {
    const row = wrap(b, L, spec, spec.queryMarkerId, opts.legacy ?? false);
    const tokMask = Array.from({ length: L }, (_, i) => (i < row.length ? 1 : 0));
    out.inputIds.push(Array.from({ length: L }, (_, i) => (i < row.length ? row[i] : spec.maskId)));
    out.tokenizerAttentionMask.push(tokMask);
    out.attentionMask.push(attend ? tokMask.map(() => 1) : tokMask);
  }
  return out;
}

/** Document rows right-padded to the batch's longest, with the keep mask (skiplist and <pad> out). */
export function documentRows(
  bodies: readonly (readonly number[])[],
  spec: ColbertSpec,
  opts: { legacy?: boolean } = {},
): ColbertRows & { keepMask: number[][] } {
  const rows = bodies.map((b) => wrap(b, spec.docMaxlen, spec, spec.docMarkerId, opts.legacy ?? false));
  const L = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const skip = new Set(spec.skiplist);
  const inputIds = rows.map((r) => Array.from({ length: L }, (_, i) => (i < r.length ? r[i] : spec.padId)));
  return {
    inputIds,
    attentionMask: rows.map((r) => Array.from({ length: L }, (_, i) => (i < r.length ? 1 : 0))),
    keepMask: inputIds.map((r) => r.map((t) => (t !== spec.padId && !skip.has(t) ? 1 : 0))),
  };
}

/** Per-token vectors of one text: `vectors` is [tokens, dim] row-major. */
export interface TokenVectors {
  vectors: Float32Array;
  dims: [number, number];
  /** The token id of each row. */
  ids: number[];
  /** Where each row sits in the tokenized row (documents: the kept positions). */
  positions: number[];
}

/** S = Σ_i max_j ⟨q_i, d_j⟩ over every query row i and every (kept) document row j. */
export function maxSim(
  q: Pick<TokenVectors, "vectors" | "dims">,
  d: Pick<TokenVectors, "vectors" | "dims">,
): number {
  const [nq, dim] = q.dims;
  const [nd, dimD] = d.dims;
  if (dim !== dimD) throw new Error(`maxSim: query vectors have ${dim} dims, document vectors ${dimD}`);
  if (nd === 0) return 0;
  let s = 0;
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    for (let j = 0; j < nd; j++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += q.vectors[i * dim + k] * d.vectors[j * dim + k];
      if (dot > best) best = dot;
    }
    s += best;
  }
  return s;
}

/** maxSim of every query with every document: [queries.length][docs.length]. */
export function maxSimMatrix(queries: readonly TokenVectors[], docs: readonly TokenVectors[]): number[][] {
  return queries.map((q) => docs.map((d) => maxSim(q, d)));
}

export interface ColbertOptions {
  threads?: number;
  device?: "cpu" | "cuda";
  /** Texts per batch (default 32). */
  batchSize?: number;
  hub?: ResolveOptions;
  /**
   * Without tokenizer.json (token-id use): the vocabulary, as token -> id (special tokens, markers)
   * or as lookups that may also encode text (then the skiplist and ". " come from it).
   */
  vocab?: Readonly<Record<string, number>> | ColbertVocab;
  /** Punctuation skiplist ids, instead of computing them with the tokenizer. */
  skiplist?: readonly number[];
  /** The ids of ". " for legacy tokenization of token ids (default: the tokenizer's). */
  dotPrefixIds?: readonly number[];
  /** colbert-ai before 2024-08 (". " placeholder overwritten by the marker); default false. */
  legacyTokenization?: boolean;
  /** Override artifact.metadata's attend_to_mask_tokens. */
  attendToMaskTokens?: boolean;
  /** X-MOD: the adapter used for languages the model has none for; default: refuse them. */
  adapterFallback?: string;
}

export interface ColbertEncodeOptions {
  /** Language of every text, or one per text (X-MOD adapter); default config default_language. */
  lang?: string | readonly string[];
}

/** Texts, or token ids without special tokens (one array per text). */
export type ColbertInput = readonly string[] | readonly (readonly number[])[];

export class ColbertModel {
  private readonly adapters = new Map<string, Record<string, TensorData>>();

  private constructor(
    /** What it was loaded as: a hub id, or the folder given. */
    readonly id: string,
    readonly dir: string,
    readonly spec: ColbertSpec,
    /** weights/fingerprint.ts of config.json and model.safetensors (what a collection records). */
    readonly fingerprint: string,
    private readonly ck: Checkpoint,
    private readonly session: Session,
    private readonly tok: TextTokenizer | null,
    private readonly opts: ColbertOptions,
  ) {}

  /** A colbert-ai checkpoint folder (or hub id): config.json, model.safetensors, artifact.metadata. */
  static async load(idOrDir: string, opts: ColbertOptions = {}): Promise<ColbertModel> {
    // loaded here, not with the module: collection.ts imports it, and most commands run no model
    const [{ Session }, { checkTokenizerFits, loadTokenizer }, { resolveModel }] = await Promise.all([
      import("../tensor/session.ts"),
      import("../text/tokenizer.ts"),
      import("../weights/hub.ts"),
    ]);
    const dir = await resolveModel(idOrDir, opts.hub);
    const ck = Checkpoint.open(dir);
    try {
      const meta = readColbertMetadata(dir);
      const dim = colbertDim(ck);
      if (dim !== meta.dim)
        throw new Error(
          `${dir}: artifact.metadata says dim ${meta.dim} but linear.weight projects to ${dim}; the files belong to different checkpoints`,
        );
      const tok = existsSync(join(dir, "tokenizer.json")) ? loadTokenizer(dir) : null;
      if (tok) checkTokenizerFits(tok, ck.config.vocabSize, dir);
      const given = opts.vocab;
      const table = given && typeof given.tokenToId !== "function" ? (given as Record<string, number>) : null;
      const vocab: ColbertVocab | undefined = tok
        ? { tokenToId: (t) => tok.tokenToId(t), encodeText: (t) => tok.encodeText(t) }
        : table
          ? { tokenToId: (t) => (Object.hasOwn(table, t) ? table[t] : undefined) }
          : (given as ColbertVocab | undefined);
      if (!vocab)
        throw new Error(
          `${dir}: no tokenizer.json; put the checkpoint's tokenizer.json in the folder (or, for token-id input, give the vocabulary as opts.vocab)`,
        );
      const spec = colbertSpec(meta, vocab, specialTokens(dir), {
        skiplist: opts.skiplist,
        dotPrefixIds: opts.dotPrefixIds,
        source: dir,
      });
      if (spec.queryMaxlen > ck.config.maxTokens || spec.docMaxlen > ck.config.maxTokens)
        throw new Error(
          `${dir}: query_maxlen ${spec.queryMaxlen} / doc_maxlen ${spec.docMaxlen} exceed the model's ${ck.config.maxTokens} positions; lower them in artifact.metadata`,
        );
      if (ck.config.xmod && opts.adapterFallback !== undefined)
        resolveXmodLanguage(opts.adapterFallback, ck.config.xmod.languages); // refuse a bad fallback now
      const session = await Session.create(colbertGraph(ck, dim), {
        threads: opts.threads,
        device: opts.device,
      });
      const fingerprint = modelFingerprint(dir, {
        configs: [join(dir, "config.json"), join(dir, "artifact.metadata")],
        weights: [join(dir, "model.safetensors")],
      });
      return new ColbertModel(idOrDir, dir, spec, fingerprint, ck, session, tok, opts);
    } catch (e) {
      ck.close();
      throw e;
    }
  }

  get dim(): number {
    return this.spec.dim;
  }

  /** doc_maxlen: the longest document row, [CLS] [D] ... [SEP] included. */
  get maxLength(): number {
    return this.spec.docMaxlen;
  }

  /** Each text's document row length before truncation (what the chunker counts). */
  countTokens(texts: readonly string[]): number[] {
    return this.bodies(texts).map((b) => b.length + (this.opts.legacyTokenization ? 2 : 3));
  }

  /** Each text's kept document token ids (as encodeDocuments' `ids`), without running the model. */
  documentTokenIds(texts: readonly string[]): number[][] {
    const rows = documentRows(this.bodies(texts), this.spec, { legacy: this.opts.legacyTokenization });
    return rows.inputIds.map((ids, k) => ids.filter((_, j) => rows.keepMask[k][j] === 1));
  }

  /** A token id as the tokenizer spells it ("▁volcano"), or "#id" without a tokenizer. */
  tokenText(id: number): string {
    return this.tok?.idToToken(id) ?? `#${id}`;
  }

  /** X-MOD adapter names (config `languages`); [] for a BERT / XLM-R backbone. */
  get languages(): readonly string[] {
    return this.ck.config.xmod?.languages ?? [];
  }

  /** The adapter name a language code selects (xx_XX, 2-letter or FLORES/NLLB code). */
  adapterFor(lang: string | undefined): string | null {
    const x = this.ck.config.xmod;
    if (!x) return null;
    if (lang === undefined) {
      if (x.defaultLanguage === null)
        throw new Error(
          `${this.dir}: config.json sets no default_language; give the texts' language (lang), one of ${x.languages.join(", ")}`,
        );
      return x.defaultLanguage;
    }
    const fallback = this.opts.adapterFallback && resolveXmodLanguage(this.opts.adapterFallback, x.languages);
    return resolveXmodLanguage(lang, x.languages, { fallback: fallback || undefined });
  }

  /** Each input's ids without special tokens (legacy: with the ". " prefix ids). */
  private bodies(input: ColbertInput): number[][] {
    const legacy = this.opts.legacyTokenization ?? false;
    return input.map((x, i) => {
      if (typeof x === "string") {
        if (!this.tok)
          throw new Error(
            `${this.dir}: text input needs the checkpoint's tokenizer.json; give token ids instead`,
          );
        return this.tok.encodeText(legacy ? `. ${x}` : x);
      }
      if (!Array.isArray(x) || !x.every((t) => Number.isInteger(t) && t >= 0 && t < this.ck.config.vocabSize))
        throw new Error(
          `input ${i} is neither a string nor token ids in 0..${this.ck.config.vocabSize - 1}; give texts or arrays of ids`,
        );
      if (!legacy) return [...x];
      if (!this.spec.dotPrefixIds)
        throw new Error(
          `${this.dir}: legacy tokenization of token ids needs the ids of ". " (opts.dotPrefixIds or a tokenizer.json)`,
        );
      return [...this.spec.dotPrefixIds, ...x];
    });
  }

  private langsOf(n: number, lang: ColbertEncodeOptions["lang"]): (string | null)[] {
    if (Array.isArray(lang) && lang.length !== n)
      throw new Error(`lang has ${lang.length} entries for ${n} texts; give one language or one per text`);
    const cache = new Map<string | undefined, string | null>();
    return Array.from({ length: n }, (_, i) => {
      const l = typeof lang === "string" || lang === undefined ? lang : (lang as readonly string[])[i];
      if (!cache.has(l)) cache.set(l, this.adapterFor(l));
      return cache.get(l)!;
    });
  }

  /** The backbone and head on ready rows, one adapter (X-MOD) for all of them. */
  async forward(
    rows: ColbertRows,
    adapter: string | null,
  ): Promise<{ lastHiddenState: Float32Array; vectors: Float32Array; dims: [number, number] }> {
    const B = rows.inputIds.length;
    const L = rows.inputIds[0]?.length ?? 0;
    const int64 = (x: number[][]): TensorData => ({
      dtype: "int64",
      dims: [B, L],
      data: BigInt64Array.from(x.flat(), BigInt),
    });
    const feeds: Record<string, TensorData> = {
      input_ids: int64(rows.inputIds),
      attention_mask: int64(rows.attentionMask),
      ...(adapter !== null && this.adapterTensors(adapter)),
    };
    const out = await this.session.run(feeds, ["last_hidden_state", "vectors"]);
    return {
      lastHiddenState: out.last_hidden_state.data as Float32Array,
      vectors: out.vectors.data as Float32Array,
      dims: [B, L],
    };
  }

  private adapterTensors(lang: string): Record<string, TensorData> {
    let t = this.adapters.get(lang);
    if (!t) {
      t = adapterFeeds(this.ck, this.ck.config, lang);
      this.adapters.set(lang, t);
    }
    return t;
  }

  /** Query vectors: query_maxlen rows each ([MASK] augmentation rows included). */
  async encodeQueries(input: ColbertInput, opts: ColbertEncodeOptions = {}): Promise<TokenVectors[]> {
    return this.encode(input, opts, "query");
  }

  /** Document vectors: only the kept rows (no punctuation of the skiplist, no padding). */
  async encodeDocuments(input: ColbertInput, opts: ColbertEncodeOptions = {}): Promise<TokenVectors[]> {
    return this.encode(input, opts, "document");
  }

  private async encode(
    input: ColbertInput,
    opts: ColbertEncodeOptions,
    role: "query" | "document",
  ): Promise<TokenVectors[]> {
    const bodies = this.bodies(input);
    const langs = this.langsOf(bodies.length, opts.lang);
    const out: TokenVectors[] = new Array(bodies.length);
    const size = this.opts.batchSize ?? 32;
    const legacy = this.opts.legacyTokenization ?? false;
    const D = this.spec.dim;
    // by adapter, then longest first (documents pad to their batch's longest)
    const order = bodies
      .map((_, i) => i)
      .sort(
        (a, b) => String(langs[a]).localeCompare(String(langs[b])) || bodies[b].length - bodies[a].length,
      );
    for (let start = 0; start < order.length;) {
      const lang = langs[order[start]];
      let end = start;
      while (end < order.length && end - start < size && langs[order[end]] === lang) end++;
      const idx = order.slice(start, end);
      start = end;
      const b = idx.map((i) => bodies[i]);
      const rows =
        role === "query"
          ? queryRows(b, this.spec, { legacy, attendToMaskTokens: this.opts.attendToMaskTokens })
          : documentRows(b, this.spec, { legacy });
      const { vectors, dims } = await this.forward(rows, lang);
      const L = dims[1];
      idx.forEach((i, k) => {
        const ids = rows.inputIds[k];
        const keep = "keepMask" in rows ? rows.keepMask[k] : null;
        const positions = ids.map((_, j) => j).filter((j) => !keep || keep[j] === 1);
        const v = new Float32Array(positions.length * D);
        positions.forEach((j, r) => v.set(vectors.subarray((k * L + j) * D, (k * L + j + 1) * D), r * D));
        out[i] = { vectors: v, dims: [positions.length, D], ids: positions.map((j) => ids[j]), positions };
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
    this.ck.close();
  }
}

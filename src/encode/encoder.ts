// The Encoder: texts in, one Float32 row per text out. Loads any supported checkpoint (hub id or
// folder), applies its family's conventions (conventions.ts), tokenizes, sorts the texts by length
// so each batch carries little padding, runs one ONNX Runtime session for every batch shape, and
// returns the rows in the caller's order.

import { join } from "node:path";
import { Checkpoint } from "../models/checkpoint.ts";
import { encoderGraph, takesTokenTypes } from "../models/encoder-graph.ts";
import { studentBatch, studentFeeds, studentGraph } from "../models/nllb-e5.ts";
import { isNllbE5Folder, type LoadedNllbE5, readNllbE5Folder } from "../models/nllb-e5-folder.ts";
import type { AggMode } from "../models/aggretriever.ts";
import { isAggretrieverFolder, readAggretrieverFolder } from "../models/aggretriever-folder.ts";
import type { Graph, TensorData } from "../tensor/graph.ts";
import { fuseForInference } from "../tensor/fuse.ts";
import { quantizeLinears } from "../tensor/quantize.ts";
import { Session } from "../tensor/session.ts";
import { DEFAULT_NLLB_LANG, nllbRow } from "../text/nllb-input.ts";
import { type LanguageDetector, loadLanguageDetector, UNDETERMINED } from "../text/langid.ts";
import { nllbLangTokenId } from "../text/nllb-langs.ts";
import {
  checkTokenizerFits,
  encodeBatch,
  loadTokenizer,
  padBatch,
  type TextTokenizer,
} from "../text/tokenizer.ts";
import { modelFingerprint } from "../weights/fingerprint.ts";
import { hubRepoOf, type ResolveOptions, resolveModel } from "../weights/hub.ts";
import { readPromptConfig, readSentenceTransformers } from "../weights/sentence-transformers.ts";
import { type AggOptions, AggRunner, aggSettings } from "./aggretriever.ts";
import {
  decidePrompts,
  type EncoderSettings,
  type PromptDecision,
  type Role,
  resolveSettings,
} from "./conventions.ts";

export type EncoderDType = "float32" | "int8";

export interface EncoderOptions {
  /** Texts per batch (default 32). */
  batchSize?: number;
  /** Intra-op threads (default: all cores). */
  threads?: number;
  device?: "cpu" | "cuda";
  /**
   * "int8" runs the linear layers with int8 weights and dynamically quantized activations
   * (tensor/quantize.ts): 1.2-1.7x faster on CPU (bench/encode.bench.ts), linear weights 4x
   * smaller, embeddings within cosine ~0.999 of float32's (random-weight e5 and NLLB shapes). CPU
   * only. Default "float32".
   */
  dtype?: EncoderDType;
  /** Hub options: revision, cache, offline, token, download progress. */
  hub?: ResolveOptions;
  /** Where warnings go (default console.warn). */
  warn?: (msg: string) => void;
  /**
   * Query/passage prefixes that win over whatever the checkpoint says (--query-prefix,
   * --passage-prefix, or what a collection recorded); a role left out is decided as usual.
   */
  prompts?: Partial<Record<Role, string>>;
  /** Override the family conventions (e.g. a distillation teacher wants the raw mean). */
  override?: Partial<Pick<EncoderSettings, "pooling" | "normalize" | "prompts">>;
  /** Aggretriever folders: lexical mode, lowercasing, target token sets (encode/aggretriever.ts). */
  agg?: AggOptions;
}

/** What the Encoder runs: a plain encoder checkpoint, an NLLB-E5 folder or an Aggretriever folder. */
type Model =
  | { kind: "encoder"; ck: Checkpoint }
  | { kind: "nllb-e5"; nllbE5: LoadedNllbE5 }
  | { kind: "agg"; runner: AggRunner; close(): void };

export interface EmbedOptions {
  role?: Role;
  /**
   * NLLB language (FLORES-200 code or alias), one for all texts or one per text; "auto" detects each
   * text's language (embed only); default eng_Latn.
   */
  lang?: string | readonly string[];
  onProgress?: (done: number, total: number) => void;
}

/** Rows of float32: `data` is [count, dim] row-major. */
export interface Embeddings {
  data: Float32Array;
  dims: [number, number];
}

/** Refuses a dtype we cannot run, before any weights are read. */
function checkDtype(opts: EncoderOptions): void {
  const dtype = opts.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "int8")
    throw new Error(`dtype "${String(dtype)}" is not supported: use float32 or int8`);
  // ONNX Runtime's CUDA provider has no kernels for the dynamic int8 ops: they would run on the CPU,
  // copying activations back and forth at every layer
  if (dtype === "int8" && opts.device === "cuda")
    throw new Error("dtype int8 runs on the CPU only: on CUDA use float32 (leave --dtype out)");
}

/** The prefixes for this load, said once when they were guessed or are unknown. */
function settlePrompts(
  opts: EncoderOptions,
  clues: Omit<Parameters<typeof decidePrompts>[0], "given">,
): PromptDecision {
  const decision = decidePrompts({ ...clues, given: opts.override?.prompts ?? opts.prompts });
  if (decision.warning) (opts.warn ?? console.warn)(`xlir: ${decision.warning}`);
  return decision;
}

function openSession(graph: Graph, opts: EncoderOptions): Promise<Session> {
  return Session.create(opts.dtype === "int8" ? quantizeLinears(graph) : graph, {
    threads: opts.threads,
    device: opts.device,
    warn: opts.warn,
  });
}

/** A plain encoder checkpoint opened and read, before any graph is built (the Encoder and trainers share it). */
export interface PreparedEncoder {
  /** The folder of config.json / model.safetensors (a sentence-transformers folder's transformer). */
  modelDir: string;
  ck: Checkpoint;
  tok: TextTokenizer;
  settings: EncoderSettings;
  /** Width of the output vector (the last Dense layer's, else the hidden size). */
  dim: number;
  fingerprint: string;
}

/** Opens the checkpoint in the resolved folder `dir` and settles its conventions; the caller closes `ck`. */
export function prepareEncoder(idOrDir: string, dir: string, opts: EncoderOptions = {}): PreparedEncoder {
  const st = readSentenceTransformers(dir);
  const modelDir = st?.transformerDir ?? dir;
  const ck = Checkpoint.open(modelDir);
  try {
    const tok = loadTokenizer(modelDir);
    checkTokenizerFits(tok, ck.config.vocabSize, modelDir);
    const hubId = hubRepoOf(dir);
    const prompts = settlePrompts(opts, {
      st: readPromptConfig(dir),
      hubId,
      name: idOrDir,
      prefixFree: ck.config.family === "m2m100",
    });
    const settings = { ...resolveSettings(hubId ?? idOrDir, ck, tok, st, prompts), ...opts.override };
    const fingerprint = modelFingerprint(dir, {
      configs: [join(modelDir, "config.json")],
      weights: [
        join(modelDir, "model.safetensors"),
        ...settings.dense.map((d) => join(dir, d.path, "model.safetensors")),
      ],
    });
    const dim = settings.dense.length
      ? settings.dense[settings.dense.length - 1].outFeatures
      : ck.config.hidden;
    return { modelDir, ck, tok, settings, dim, fingerprint };
  } catch (e) {
    ck.close();
    throw e;
  }
}

/**
 * Token rows (prompt and special tokens included) for each text, cut at `maxLength` (default the
 * model's); `nllb`: NLLB rows [lang code, tokens..., </s>] in the language(s) given.
 */
export function tokenizeTexts(
  tok: TextTokenizer,
  settings: EncoderSettings,
  nllb: boolean,
  texts: readonly string[],
  opts: { role?: Role; lang?: string | readonly string[]; maxLength?: number } = {},
): { rows: number[][]; truncated: boolean[] } {
  const limit = opts.maxLength ?? settings.maxLength;
  const prompt = settings.prompts[opts.role ?? "passage"];
  const prepared = texts.map((t, i) => {
    if (typeof t !== "string") throw new Error(`text ${i} is a ${typeof t}, not a string`);
    const s = prompt + t;
    return settings.lowerCase ? s.toLowerCase() : s;
  });
  if (!nllb) {
    const { ids, truncated } = encodeBatch(tok, prepared, { maxLength: limit });
    return { rows: ids, truncated };
  }
  const langs = opts.lang ?? DEFAULT_NLLB_LANG;
  const eos = tok.specialIds.eos ?? tok.tokenToId("</s>") ?? 2;
  const out = prepared.map((t, i) => {
    const lang = typeof langs === "string" ? langs : langs[i];
    return nllbRow(tok.encodeText(t), nllbLangTokenId(tok, lang), eos, limit);
  });
  return { rows: out.map((r) => r.ids), truncated: out.map((r) => r.truncated) };
}

/** input_ids / attention_mask (and all-zero token_type_ids when the graph takes them) for token rows. */
export function encoderFeeds(
  rows: number[][],
  padId: number,
  tokenTypes: boolean,
): Record<string, TensorData> {
  const batch = padBatch(rows, padId);
  const dims = [batch.batch, batch.seqLen];
  const feeds: Record<string, TensorData> = {
    input_ids: { dtype: "int64", dims, data: BigInt64Array.from(batch.ids, BigInt) },
    attention_mask: { dtype: "int64", dims, data: BigInt64Array.from(batch.attentionMask, BigInt) },
  };
  if (tokenTypes) feeds.token_type_ids = { dtype: "int64", dims, data: new BigInt64Array(batch.ids.length) };
  return feeds;
}

export class Encoder {
  private warnedTruncation = false;
  private detector?: LanguageDetector;

  private constructor(
    readonly id: string,
    readonly settings: EncoderSettings,
    readonly dim: number,
    private readonly model: Model,
    private readonly tok: TextTokenizer,
    /** null for Aggretriever folders: their runner holds the sessions. */
    private readonly session: Session | null,
    private readonly opts: EncoderOptions,
    /** weights/fingerprint.ts of the files the model was built from (config and weights). */
    readonly fingerprint: string,
  ) {}

  static async load(idOrDir: string, opts: EncoderOptions = {}): Promise<Encoder> {
    checkDtype(opts);
    const dir = await resolveModel(idOrDir, opts.hub);
    if (isNllbE5Folder(dir)) return Encoder.loadNllbE5(idOrDir, dir, opts);
    if (isAggretrieverFolder(dir)) return Encoder.loadAggretriever(idOrDir, dir, opts);
    const m = prepareEncoder(idOrDir, dir, opts);
    try {
      const graph = encoderGraph(m.ck, {
        pooling: m.settings.pooling,
        normalize: m.settings.normalize,
        dense: m.settings.dense,
      });
      const session = await openSession(graph, opts);
      return new Encoder(
        idOrDir,
        m.settings,
        m.dim,
        { kind: "encoder", ck: m.ck },
        m.tok,
        session,
        opts,
        m.fingerprint,
      );
    } catch (e) {
      m.ck.close();
      throw e;
    }
  }

  /** An NLLB-E5 folder written by `xlir distill`: NLLB tokenization, the role as E5 prefix ids. */
  private static async loadNllbE5(id: string, dir: string, opts: EncoderOptions): Promise<Encoder> {
    const nllbE5 = readNllbE5Folder(dir);
    try {
      const tok = loadTokenizer(nllbE5.tokenizerDir);
      checkTokenizerFits(tok, nllbE5.parts.nllb.config.vocabSize, nllbE5.tokenizerDir);
      const spec = nllbE5.config.spec;
      // The E5 prefixes enter as token ids (spec.prefixIds); text prompts, when given, go before
      // the NLLB text. The record only says which prefixes those ids are: nothing to guess.
      const prompts = settlePrompts(opts, {
        recorded: { query: "", passage: "" },
        name: id,
      });
      const settings: EncoderSettings = {
        pooling: "mean",
        normalize: true,
        dense: [],
        prompts: prompts.prompts,
        promptSource: prompts.source,
        maxLength: spec.maxNllbTokens,
        lowerCase: false,
        ...opts.override,
      };
      const { graph } = studentGraph(nllbE5.parts, spec, { normalize: settings.normalize });
      const session = await openSession(fuseForInference(graph), opts);
      return new Encoder(
        id,
        settings,
        nllbE5.parts.e5Config.hidden,
        { kind: "nllb-e5", nllbE5 },
        tok,
        session,
        opts,
        modelFingerprint(dir, nllbE5.files),
      );
    } catch (e) {
      nllbE5.close();
      throw e;
    }
  }

  /** An Aggretriever folder: [CLS] projection ++ agg* of the lexical vector, dot product, no prefixes. */
  private static async loadAggretriever(id: string, dir: string, opts: EncoderOptions): Promise<Encoder> {
    const folder = readAggretrieverFolder(dir);
    try {
      const tok = loadTokenizer(dir);
      checkTokenizerFits(tok, folder.ck.config.vocabSize, dir);
      const settings = aggSettings(folder, tok, opts.agg?.lowercase);
      const runner = await AggRunner.create(folder, opts.agg ?? {}, (g) => openSession(g, opts));
      return new Encoder(
        id,
        settings,
        runner.dim,
        { kind: "agg", runner, close: () => folder.close() },
        tok,
        null,
        opts,
        modelFingerprint(dir, folder.files),
      );
    } catch (e) {
      folder.close();
      throw e;
    }
  }

  /**
   * The token set of `texts` for Aggretriever's target mode: the sorted distinct ids of their
   * tokens as this model reads them (lowercased when it lowercases), special tokens left out.
   */
  tokenSet(texts: Iterable<string>): number[] {
    const seen = new Set<number>();
    for (const t of texts)
      for (const id of this.tok.encodeText(this.settings.lowerCase ? t.toLowerCase() : t)) seen.add(id);
    // <unk> too: it stands for no word of the language
    for (const id of Object.values(this.tok.specialIds)) seen.delete(id);
    return [...seen].sort((a, b) => a - b);
  }

  /** The tokenizer (ids to token strings, for a server's tokenize route). */
  get tokenizer(): TextTokenizer {
    return this.tok;
  }

  /** The tokenizer's fingerprint (what a token set of tokenSet must have been made with). */
  get tokenizerFingerprint(): string {
    return this.tok.fingerprint;
  }

  /** The lexical mode of an Aggretriever folder; null for other models. */
  get aggMode(): AggMode | null {
    return this.model.kind === "agg" ? this.model.runner.mode : null;
  }

  get dtype(): EncoderDType {
    return this.opts.dtype ?? "float32";
  }

  get maxLength(): number {
    return this.settings.maxLength;
  }

  /**
   * Token rows (prompt and special tokens included) for each text, truncated to maxLength with a
   * one-time warning — or whole, silently, with `truncate: false` (for measuring, e.g. chunking).
   */
  tokenize(texts: readonly string[], opts: EmbedOptions & { truncate?: boolean } = {}): number[][] {
    const { rows, truncated } = this.tokenizeDetailed(texts, opts);
    const cut = truncated.filter(Boolean).length;
    if (cut && !this.warnedTruncation) {
      this.warnedTruncation = true;
      (this.opts.warn ?? console.warn)(
        `xlir: ${cut} text(s) longer than ${this.maxLength} tokens were truncated for ${this.id} (warned once); chunk long documents to keep their ends`,
      );
    }
    return rows;
  }

  /** tokenize without the warning: the rows and which of them were cut (a server reports them per input). */
  tokenizeDetailed(
    texts: readonly string[],
    opts: EmbedOptions & { truncate?: boolean } = {},
  ): { rows: number[][]; truncated: boolean[] } {
    const nllb =
      this.model.kind === "nllb-e5" ||
      (this.model.kind === "encoder" && this.model.ck.config.family === "m2m100");
    return tokenizeTexts(this.tok, this.settings, nllb, texts, {
      ...opts,
      maxLength: opts.truncate === false ? Number.MAX_SAFE_INTEGER : this.maxLength,
    });
  }

  async embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Embeddings> {
    const lang = opts.lang === "auto" ? await this.detectLanguages(texts) : opts.lang;
    return this.embedRows(this.tokenize(texts, { ...opts, lang }), { ...opts, lang });
  }

  /**
   * Rows of `tokenize` (or token ids a client sent in that form) to embeddings, with no
   * tokenization: what a server that batches requests by their token counts runs. `lang` is only
   * read by Aggretriever's target mode (whose token set); "auto" is not detected here.
   */
  async embedRows(rows: readonly number[][], opts: EmbedOptions = {}): Promise<Embeddings> {
    const lang = opts.lang;
    const langOf = (i: number) => (typeof lang === "string" ? lang : (lang?.[i] ?? DEFAULT_NLLB_LANG));
    const out = new Float32Array(rows.length * this.dim);
    // longest first, so the first batch shows the peak memory and the rest only get cheaper
    const order = rows.map((_, i) => i).sort((a, b) => rows[b].length - rows[a].length);
    const size = this.opts.batchSize ?? 32;
    for (let start = 0; start < order.length; start += size) {
      const idx = order.slice(start, start + size);
      const feeds = this.feeds(
        idx.map((i) => rows[i]),
        opts.role ?? "passage",
      );
      const emb =
        this.model.kind === "agg"
          ? await this.model.runner.embed(feeds, idx.map(langOf))
          : ((await this.session!.run(feeds, ["embedding"])).embedding.data as Float32Array);
      idx.forEach((i, k) => out.set(emb.subarray(k * this.dim, (k + 1) * this.dim), i * this.dim));
      opts.onProgress?.(Math.min(start + size, order.length), order.length);
    }
    return { data: out, dims: [rows.length, this.dim] };
  }

  /** Per-text NLLB language for lang "auto"; text whose language cannot be told is read as eng_Latn. */
  async detectLanguages(texts: readonly string[]): Promise<string[]> {
    this.detector ??= await loadLanguageDetector();
    return texts.map((t) => {
      const lang = this.detector!(t);
      return lang === UNDETERMINED ? DEFAULT_NLLB_LANG : lang;
    });
  }

  private feeds(rows: number[][], role: Role): Record<string, TensorData> {
    if (this.model.kind === "nllb-e5") {
      const spec = this.model.nllbE5.config.spec;
      return studentFeeds(
        studentBatch(
          rows,
          rows.map(() => role),
          spec,
          this.tok.padId,
        ),
      );
    }
    return encoderFeeds(
      rows,
      this.tok.padId,
      this.model.kind === "encoder" && takesTokenTypes(this.model.ck),
    );
  }

  async close(): Promise<void> {
    await this.session?.release();
    if (this.model.kind === "nllb-e5") this.model.nllbE5.close();
    else if (this.model.kind === "agg") {
      await this.model.runner.release();
      this.model.close();
    } else this.model.ck.close();
  }
}

// The two sessions of a seq2seq checkpoint (encoder, decoder step) and the state that passes
// between decoding steps: the cross-attention keys/values of each input (computed once) and the
// growing self-attention cache. Rows of a state are picked by index (`selectRows`), which is how
// finished rows leave the batch and how beam search follows its beams.

import { Checkpoint } from "../models/checkpoint.ts";
import { decoderConfig, seq2seqDecoderGraph, seq2seqEncoderGraph } from "../models/seq2seq-graphs.ts";
import type { Graph, TensorData } from "../tensor/graph.ts";
import { quantizeLinears } from "../tensor/quantize.ts";
import { Session, type SessionOptions } from "../tensor/session.ts";

export type Seq2SeqSessionOptions = SessionOptions & { dtype?: "float32" | "int8" };
import type { ModelConfig } from "../weights/config.ts";

/** Row-major float32 data with its dims. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

export interface KeyValue {
  key: Tensor;
  value: Tensor;
}

/** Everything a decoding step needs besides the new tokens; row i of every tensor is batch row i. */
export interface DecoderState {
  batch: number;
  srcLen: number;
  /** encoder attention mask [batch, srcLen] (1 = real token). */
  mask: BigInt64Array;
  cross: KeyValue[];
  /** self-attention cache per layer, [batch, heads, past, dh]. */
  past: KeyValue[];
}

export interface EncoderOutput {
  /** last_hidden_state [batch, srcLen, d]. */
  hidden: Tensor;
  /** The decoding state before the first step (empty cache). */
  state: DecoderState;
}

const int64 = (data: BigInt64Array, dims: number[]): TensorData => ({ dtype: "int64", dims, data });
const f32 = (t: Tensor): TensorData => ({ dtype: "float32", dims: t.dims, data: t.data });
const tensor = (t: TensorData): Tensor => ({ data: t.data as Float32Array, dims: t.dims });

/** Rows `rows` (repeats allowed) of `t` along axis 0. */
export function selectRows(t: Tensor, rows: readonly number[]): Tensor {
  const size = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(rows.length * size);
  rows.forEach((r, i) => out.set(t.data.subarray(r * size, (r + 1) * size), i * size));
  return { data: out, dims: [rows.length, ...t.dims.slice(1)] };
}

/**
 * Rows `rows` of a state. `sameSource` says that row i of the result decodes the same input as row
 * i of `s` (beam search reordering beams within each input): the encoder side is then kept as is.
 */
export function selectState(s: DecoderState, rows: readonly number[], sameSource = false): DecoderState {
  const kv = (x: KeyValue) => ({ key: selectRows(x.key, rows), value: selectRows(x.value, rows) });
  if (sameSource) return { ...s, past: s.past.map(kv) };
  const mask = new BigInt64Array(rows.length * s.srcLen);
  rows.forEach((r, i) => mask.set(s.mask.subarray(r * s.srcLen, (r + 1) * s.srcLen), i * s.srcLen));
  return { batch: rows.length, srcLen: s.srcLen, mask, cross: s.cross.map(kv), past: s.past.map(kv) };
}

/** Right-pads rows with `pad`; mask 1 on the real tokens. */
export function padRows(
  rows: readonly (readonly number[])[],
  pad: number,
): { ids: BigInt64Array; mask: BigInt64Array; len: number } {
  const len = Math.max(1, ...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * len).fill(BigInt(pad));
  const mask = new BigInt64Array(rows.length * len);
  rows.forEach((r, i) =>
    r.forEach((id, j) => {
      ids[i * len + j] = BigInt(id);
      mask[i * len + j] = 1n;
    }),
  );
  return { ids, mask, len };
}

export class Seq2SeqModel {
  private constructor(
    readonly config: ModelConfig,
    private readonly encoder: Session,
    private readonly decoder: Session,
    readonly layers: number,
    readonly heads: number,
    readonly headDim: number,
    readonly vocabSize: number,
  ) {}

  /** `dtype` "int8": linear layers with int8 weights (tensor/quantize.ts), CPU only, as the Encoder's. */
  static async load(dir: string, opts: Seq2SeqSessionOptions = {}): Promise<Seq2SeqModel> {
    if (opts.dtype === "int8" && opts.device === "cuda")
      throw new Error("dtype int8 runs on the CPU only: on CUDA use float32 (leave --dtype out)");
    const ck = Checkpoint.open(dir);
    try {
      const dec = decoderConfig(ck);
      const prepare = (g: Graph) => (opts.dtype === "int8" ? quantizeLinears(g) : g);
      const [encoder, decoder] = await Promise.all([
        Session.create(prepare(seq2seqEncoderGraph(ck)), opts),
        Session.create(prepare(seq2seqDecoderGraph(ck)), opts),
      ]);
      return new Seq2SeqModel(
        ck.config,
        encoder,
        decoder,
        dec.layers,
        dec.heads,
        ck.config.hidden / dec.heads,
        dec.vocabSize,
      );
    } finally {
      ck.close();
    }
  }

  /** Encodes right-padded ids [batch, srcLen] with their mask (padRows makes both from plain rows). */
  async encode(ids: BigInt64Array, mask: BigInt64Array, batch: number): Promise<EncoderOutput> {
    const srcLen = ids.length / batch;
    const names = ["last_hidden_state"];
    for (let i = 0; i < this.layers; i++) names.push(`cross.${i}.key`, `cross.${i}.value`);
    const out = await this.encoder.run(
      { input_ids: int64(ids, [batch, srcLen]), attention_mask: int64(mask, [batch, srcLen]) },
      names,
    );
    const empty = (): Tensor => ({ data: new Float32Array(0), dims: [batch, this.heads, 0, this.headDim] });
    return {
      hidden: tensor(out.last_hidden_state),
      state: {
        batch,
        srcLen,
        mask,
        cross: Array.from({ length: this.layers }, (_, i) => ({
          key: tensor(out[`cross.${i}.key`]),
          value: tensor(out[`cross.${i}.value`]),
        })),
        past: Array.from({ length: this.layers }, () => ({ key: empty(), value: empty() })),
      },
    };
  }

  /**
   * Runs the decoder on `tokens` [batch][new] (every row the same length) after the cached ones;
   * returns logits [batch, new, vocab], the decoder output and the state with the cache grown.
   */
  async step(
    state: DecoderState,
    tokens: readonly (readonly number[])[],
  ): Promise<{ logits: Tensor; hidden: Tensor; state: DecoderState }> {
    const n = tokens[0]?.length ?? 0;
    if (tokens.length !== state.batch || tokens.some((t) => t.length !== n))
      throw new Error(
        `decoder step: expected ${state.batch} rows of equal length, got ${tokens.map((t) => t.length)}`,
      );
    const feeds: Record<string, TensorData> = {
      decoder_input_ids: int64(
        BigInt64Array.from(tokens.flat(), (v) => BigInt(v)),
        [state.batch, n],
      ),
      encoder_attention_mask: int64(state.mask, [state.batch, state.srcLen]),
    };
    const names = ["logits", "decoder_last_hidden_state"];
    for (let i = 0; i < this.layers; i++) {
      feeds[`cross.${i}.key`] = f32(state.cross[i].key);
      feeds[`cross.${i}.value`] = f32(state.cross[i].value);
      feeds[`past.${i}.key`] = f32(state.past[i].key);
      feeds[`past.${i}.value`] = f32(state.past[i].value);
      names.push(`present.${i}.key`, `present.${i}.value`);
    }
    const out = await this.decoder.run(feeds, names);
    return {
      logits: tensor(out.logits),
      hidden: tensor(out.decoder_last_hidden_state),
      state: {
        ...state,
        past: Array.from({ length: this.layers }, (_, i) => ({
          key: tensor(out[`present.${i}.key`]),
          value: tensor(out[`present.${i}.value`]),
        })),
      },
    };
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }
}

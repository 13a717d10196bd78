// The PyTorch baseline the benchmarks compare with: ../shared/bench/torch_baseline.py, run by the
// system's python3 as a child process that prints one line of JSON. Its SHAPES table is also where
// the benchmarks take their model shapes from, so both sides always run the same model.
//
// Set-up (once per machine): apt-get install -y python3-torch libopenblas0-openmp
// (XLIR_BENCH_PYTHON names another interpreter than /usr/bin/python3).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BASELINE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../shared/bench/torch_baseline.py",
);
const PYTHON = process.env.XLIR_BENCH_PYTHON ?? "/usr/bin/python3";
const INSTALL = "apt-get install -y python3-torch libopenblas0-openmp";

/**
 * The baseline's environment: ours without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which pin
 * OpenBLAS to another CPU's kernels or cache size (a shell may export them for other tools) and
 * would make PyTorch slower than it is on this machine.
 */
function pythonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function requireScript(): void {
  if (!existsSync(BASELINE))
    throw new Error(
      `PyTorch baseline script not found at ${BASELINE}; the benchmark expects the project's shared folder beside the checkout (../shared/bench/torch_baseline.py)`,
    );
}

const lastLine = (s: string) => s.trim().split("\n").pop() ?? "";

/** Fail early, with the fix, when the baseline cannot run; returns torch's version and GEMM GFLOP/s. */
export function checkBaseline(): { torch: string; gemm_gflops: number } {
  requireScript();
  const probe = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], {
    encoding: "utf8",
    env: pythonEnv(),
  });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : lastLine(probe.stderr);
    throw new Error(
      `the PyTorch baseline needs Debian's python3-torch, and ${PYTHON} cannot import torch (${why}); install it with: ${INSTALL}`,
    );
  }
  const gemm = spawnSync(PYTHON, [BASELINE, "gemm", "--n", "2048"], { encoding: "utf8", env: pythonEnv() });
  if (gemm.status !== 0) throw new Error(`${BASELINE} gemm failed: ${lastLine(gemm.stderr)}`);
  const gflops = JSON.parse(lastLine(gemm.stdout)).gflops_median as number;
  if (gflops < 100)
    console.error(
      `warning: PyTorch reaches only ${gflops.toFixed(0)} GFLOP/s on a 2048 GEMM (expected well over 100): is libopenblas0-openmp installed (${INSTALL})? Or the machine is busy.`,
    );
  return { torch: probe.stdout.trim(), gemm_gflops: +gflops.toFixed(1) };
}

/** What each measuring command of torch_baseline.py prints (its report()), in the fields read here. */
export interface BaselineResult {
  times_s: number[];
  median_ms: number;
  peak_rss_mib: number;
  torch: string;
  threads: number;
}

/**
 * Run `torch_baseline.py ...args` and resolve the JSON of its last line of output; with `timeoutS`,
 * a run past that many seconds is stopped and resolves "timeout".
 */
export function runBaseline<T = BaselineResult>(args: string[]): Promise<T>;
export function runBaseline<T = BaselineResult>(args: string[], timeoutS: number): Promise<T | "timeout">;
export function runBaseline<T>(args: string[], timeoutS?: number): Promise<T | "timeout"> {
  return runPythonJson<T>(BASELINE, args, timeoutS);
}

/** runBaseline for another Python script of ours (e.g. bench/train_step_torch.py); `onSpawn` is handed the process. */
export function runPythonJson<T>(
  script: string,
  args: string[],
  timeoutS?: number,
  onSpawn?: (c: ChildProcess) => void,
): Promise<T | "timeout"> {
  const name = basename(script);
  return new Promise((res, rej) => {
    const child = spawn(PYTHON, [script, ...args], { stdio: ["ignore", "pipe", "pipe"], env: pythonEnv() });
    onSpawn?.(child);
    let out = "";
    let err = "";
    let timedOut = false;
    const timer =
      timeoutS === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill();
          }, timeoutS * 1000);
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return res("timeout");
      if (code !== 0)
        return rej(
          new Error(`${name} ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${lastLine(err)}`),
        );
      try {
        res(JSON.parse(lastLine(out)));
      } catch {
        rej(new Error(`${name} printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

/** One entry of torch_baseline.py's SHAPES. */
export interface EncoderShape {
  kind: "bert" | "m2m100";
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
  vocab: number;
}

/** Parse the `SHAPES = {...}` table of torch_baseline.py (one `"name": dict(k=v, ...)` per line). */
export function baselineShapes(): Map<string, EncoderShape> {
  requireScript();
  const src = readFileSync(BASELINE, "utf8");
  const shapes = new Map<string, EncoderShape>();
  for (const m of src.matchAll(/^\s*"([\w.-]+)":\s*dict\(([^)]*)\)/gm)) {
    const f = Object.fromEntries(
      m[2].split(",").map((kv) => kv.split("=").map((s) => s.trim().replace(/^"|"$/g, ""))),
    );
    if (f.kind !== "bert" && f.kind !== "m2m100") continue;
    const n = (k: string) => {
      const v = Number(f[k]);
      if (!Number.isSafeInteger(v) || v <= 0)
        throw new Error(`${BASELINE}: SHAPES["${m[1]}"].${k} is not a positive integer`);
      return v;
    };
    shapes.set(m[1], {
      kind: f.kind,
      hidden: n("hidden"),
      layers: n("layers"),
      heads: n("heads"),
      ffn: n("ffn"),
      vocab: n("vocab"),
    });
  }
  if (!shapes.size) throw new Error(`${BASELINE}: no SHAPES entries found; is this torch_baseline.py?`);
  return shapes;
}

/**
 * config.json of the checkpoint family, as the hub's e5 (BertModel) and NLLB-200
 * (M2M100ForConditionalGeneration) checkpoints write it.
 */
export function hfConfig(s: EncoderShape): Record<string, unknown> {
  if (s.kind === "bert")
    return {
      architectures: ["BertModel"],
      attention_probs_dropout_prob: 0.1,
      classifier_dropout: null,
      hidden_act: "gelu",
      hidden_dropout_prob: 0.1,
      hidden_size: s.hidden,
      initializer_range: 0.02,
      intermediate_size: s.ffn,
      layer_norm_eps: 1e-12,
      max_position_embeddings: 512,
      model_type: "bert",
      num_attention_heads: s.heads,
      num_hidden_layers: s.layers,
      pad_token_id: 0,
      position_embedding_type: "absolute",
      torch_dtype: "float32",
      transformers_version: "4.29.0.dev0",
      type_vocab_size: 2,
      use_cache: true,
      vocab_size: s.vocab,
    };
  return {
    activation_dropout: 0.0,
    activation_function: "relu",
    architectures: ["M2M100ForConditionalGeneration"],
    attention_dropout: 0.1,
    bos_token_id: 0,
    d_model: s.hidden,
    decoder_attention_heads: s.heads,
    decoder_ffn_dim: s.ffn,
    decoder_layerdrop: 0,
    decoder_layers: s.layers,
    decoder_start_token_id: 2,
    dropout: 0.1,
    encoder_attention_heads: s.heads,
    encoder_ffn_dim: s.ffn,
    encoder_layerdrop: 0,
    encoder_layers: s.layers,
    eos_token_id: 2,
    init_std: 0.02,
    is_encoder_decoder: true,
    max_length: 200,
    max_position_embeddings: 1024,
    model_type: "m2m_100",
    num_hidden_layers: s.layers,
    pad_token_id: 1,
    scale_embedding: true,
    tokenizer_class: "NllbTokenizer",
    torch_dtype: "float32",
    transformers_version: "4.21.0.dev0",
    use_cache: true,
    vocab_size: s.vocab,
  };
}

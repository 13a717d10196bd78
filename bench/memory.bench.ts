// Memory while loading an encoder, stage by stage, side by side with PyTorch in one run: for each
// shape of the baseline script, a checkpoint in the real Hugging Face layout with random weights
// (src/models/random.ts) is written to a temp folder, then opened by xlir in a fresh child process
// per setting, as Encoder.load does it (Checkpoint -> encoderGraph -> [quantizeLinears] ->
// Session.create), and one 1 x 32 batch is run. PyTorch builds the same shape with its weights
// initialised in place (bench/memory_torch.py): no file is read, so its figure is the least memory
// PyTorch can hold the model in, a lower bound for loading a checkpoint.
//
// Settings: float32 and int8 as xlir runs them (frozen weights stay in the checkpoint until
// Session.create writes them one tensor at a time as ONNX Runtime's external data), and
// float32-eager / int8-eager, the same graph with every weight first read into JS arrays (how xlir
// loaded before), for a before/after in the same run.
// Each stage prints RSS then and the peak so far (VmHWM); "load peak" is the peak once the
// session is open, the goal's figure: xlir's load peak / PyTorch's (at or under 1.0 is the goal).
//
//   npm run bench:memory -- [--shapes e5-small-v2,e5-base-v2,nllb-600m-encoder]
//        [--dtype float32,int8,float32-eager,int8-eager]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint } from "../src/models/checkpoint.ts";
import { encoderGraph, takesTokenTypes } from "../src/models/encoder-graph.ts";
import { isLazy } from "../src/tensor/graph.ts";
import { quantizeLinears } from "../src/tensor/quantize.ts";
import { Session } from "../src/tensor/session.ts";
import { baselineShapes, checkBaseline, hfConfig, runPythonJson } from "./baseline.ts";
import { cpu, onExit, parseOptions, peakRssMib, printTable, writeRandomCheckpointApart } from "./util.ts";
import { WorkerHandle, forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);
const TORCH_SCRIPT = join(dirname(HERE), "memory_torch.py");
const SETTINGS = ["float32", "int8", "float32-eager", "int8-eager"] as const;
type Setting = (typeof SETTINGS)[number];
type Stages = Record<string, { rss_mib: number; peak_rss_mib: number }>;
type FromChild = { type: "stages"; stages: Stages } | { type: "error"; message: string };

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

async function child(dir: string, setting: Setting): Promise<void> {
  const stages: Stages = {};
  const stage = (name: string) =>
    (stages[name] = {
      rss_mib: mib(process.memoryUsage().rss),
      peak_rss_mib: peakRssMib(),
    });
  stage("start");
  const ck = Checkpoint.open(dir);
  stage("open");
  const graph = encoderGraph(ck, { pooling: "mean", normalize: true });
  if (setting.endsWith("-eager"))
    for (const [name, t] of graph.initializers)
      if (isLazy(t)) graph.initializers.set(name, { dtype: t.dtype, dims: t.dims, data: t.data });
  stage("graph");
  const model = setting.startsWith("int8") ? quantizeLinears(graph) : graph;
  if (model !== graph) stage("quantized");
  const session = await Session.create(model, { threads: 1 });
  stage("session");
  ck.close();
  const n = 32;
  const feeds = {
    input_ids: { dtype: "int64" as const, dims: [1, n], data: new BigInt64Array(n).fill(5n) },
    attention_mask: { dtype: "int64" as const, dims: [1, n], data: new BigInt64Array(n).fill(1n) },
    ...(takesTokenTypes(ck)
      ? { token_type_ids: { dtype: "int64" as const, dims: [1, n], data: new BigInt64Array(n) } }
      : {}),
  };
  await session.run(feeds, ["embedding"]);
  stage("run 1x32");
  await session.release();
  process.send!({ type: "stages", stages } satisfies FromChild);
}

async function main(): Promise<void> {
  const { opts } = parseOptions(process.argv.slice(2), ["shapes", "dtype"]);
  const known = baselineShapes();
  const shapes = (opts.shapes ?? "e5-small-v2,e5-base-v2,nllb-600m-encoder").split(",").filter(Boolean);
  for (const s of shapes)
    if (!known.has(s)) throw new Error(`--shapes: "${s}" is not a shape of torch_baseline.py`);
  const settings = (opts.dtype ?? SETTINGS.join(",")).split(",").filter(Boolean) as Setting[];
  for (const s of settings)
    if (!SETTINGS.includes(s)) throw new Error(`--dtype: "${s}" is not one of ${SETTINGS.join(", ")}`);
  const baseline = { ...checkBaseline(), cpu: cpu() };
  const log = (msg: string) => console.error(`[bench:memory] ${msg}`);
  log(`torch ${baseline.torch}; CPU: ${baseline.cpu.model}; flags ${baseline.cpu.flags.join(" ")}`);
  const dirs = new Set<string>();
  onExit(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const results: { shape: string; torch: Stages; xlir: Record<string, Stages> }[] = [];
  for (const shape of shapes) {
    const dir = mkdtempSync(join(tmpdir(), `xlir-bench-${shape}-`));
    dirs.add(dir);
    try {
      log(`${shape}: writing a random checkpoint`);
      writeRandomCheckpointApart(dir, hfConfig(known.get(shape)!), 1);
      const xlir: Record<string, Stages> = {};
      for (const s of settings) {
        const w = new WorkerHandle<object, FromChild>(forkChild(HERE, ["--child", dir, s]));
        xlir[s] = (await w.ask("stages")).stages;
        w.close();
        log(`${shape} xlir ${s}: load peak ${xlir[s].session.peak_rss_mib} MiB`);
      }
      const torch = (await runPythonJson<{ stages: Stages }>(TORCH_SCRIPT, ["--shape", shape])) as {
        stages: Stages;
      };
      log(`${shape} torch float32: load peak ${torch.stages.model.peak_rss_mib} MiB`);
      results.push({ shape, torch: torch.stages, xlir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    }
  }

  const lines = [["shape", "engine", "stages: RSS MiB (peak so far)", "load peak MiB", "/ torch"]];
  const row = (shape: string, engine: string, st: Stages, load: number, torchLoad: number) =>
    lines.push([
      shape,
      engine,
      Object.entries(st)
        .map(([k, v]) => `${k} ${v.rss_mib} (${v.peak_rss_mib})`)
        .join(", "),
      String(load),
      (load / torchLoad).toFixed(2),
    ]);
  for (const r of results) {
    const torchLoad = r.torch.model.peak_rss_mib;
    row(r.shape, "torch float32", r.torch, torchLoad, torchLoad);
    for (const [s, st] of Object.entries(r.xlir))
      row(r.shape, `xlir ${s}`, st, st.session.peak_rss_mib, torchLoad);
  }
  printTable(lines);
  console.log(
    `CPU: ${baseline.cpu.model}; flags ${baseline.cpu.flags.join(" ")}. load peak = peak RSS once the model can run (xlir: session open; PyTorch: model built in place). Goal: xlir / torch <= 1.0.`,
  );
  console.log(JSON.stringify({ bench: "memory", torch: baseline.torch, cpu: baseline.cpu, results }));
}

if (process.argv[2] === "--child")
  child(process.argv[3], process.argv[4] as Setting).catch((e) => {
    process.send?.({ type: "error", message: (e as Error).message });
    process.exit(1);
  });
else
  main().catch((e) => {
    console.error(`bench:memory: ${(e as Error).message}`);
    process.exit(1);
  });

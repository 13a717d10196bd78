// Cold start of `xlir search` (figures printed, never asserted): the wall time of a whole
// `node dist/cli/main.js search NAME "QUERY" --home HOME` process, start-up included, on a
// 20k-document BM25 collection, next to a bare `node -e 0` measured in the same rounds (the part no
// code of ours can save), and the ratio to the 0.5 s goal.
//   1. `--lang en` (the query's language given) and the default `--lang auto` (the language
//      detector loads: ELD's n-gram tables), each run as its own process, rounds interleaved so
//      that a busy machine slows every row alike;
//   2. where one such search spends its time: a child process that loads the same dist/ modules
//      and takes the same steps as the command (imports, open, documents and chunks, BM25 file,
//      search with hit texts, close), timed one by one.
// The collection: XQuAD-R answer sentences (11 languages), then FLORES-200 devtest lines, from
// ../shared/data, indexed here with the library into a temporary xlir home. dist/ is built first
// (`npm run build`) unless it is the build of the current sources (bin/dist.js decides, as for
// bin/xlir.js). About a minute on 2 cores.
//
//   npm run bench:cold-start -- [--runs 10] [--docs 20000] [--query "population of the city"]

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { builtMain } from "../bin/dist.js";
import { loadLareqa } from "../src/eval/datasets/lareqa.ts";
import { Collection } from "../src/index/collection.ts";
import { addDocuments } from "../src/index/indexer.ts";
import type { InputDoc } from "../src/index/ingest.ts";
import { cpu, fmt, median, onExit, parseOptions, printTable } from "./util.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = resolve(REPO, "..", "shared", "data");
const GOAL_MS = 500;
const NAME = "cold";

const { opts, int } = parseOptions(process.argv.slice(2), ["runs", "docs", "query"]);
const runs = int("runs", 10);
const nDocs = int("docs", 20000);
const query = opts.query ?? "population of the city";

const root = mkdtempSync(join(tmpdir(), "xlir-bench-cold-start-"));
onExit(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");

/** XQuAD-R answer sentences, then FLORES-200 devtest lines, with their languages, until `n`. */
function corpus(n: number): InputDoc[] {
  const docs: InputDoc[] = loadLareqa(join(SHARED, "xquad-r")).flatMap((l) =>
    l.candidates.map((c) => ({ id: `xquad:${c.id}`, text: c.text, lang: c.lang, source: c.id })),
  );
  const flores = join(SHARED, "flores200", "devtest");
  for (const f of readdirSync(flores).sort()) {
    if (docs.length >= n) break;
    const lang = f.replace(/\.devtest$/, "");
    readFileSync(join(flores, f), "utf8")
      .split("\n")
      .filter(Boolean)
      .forEach((text, i) => docs.push({ id: `flores:${lang}/${i}`, text, lang, source: `${f}:${i + 1}` }));
  }
  if (docs.length < n) throw new Error(`only ${docs.length} sentences in ${SHARED}; ask for fewer --docs`);
  return docs.slice(0, n);
}

/** dist/cli/main.js, built first unless it is the build of the current sources. */
function distMain(): string {
  let main = builtMain();
  if (main === null) {
    console.error("[bench:cold-start] dist/ is missing or older than src/: npm run build");
    const b = spawnSync("npm", ["run", "build"], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
    main = builtMain();
    if (b.status !== 0 || main === null) throw new Error("npm run build failed: fix the build first");
  }
  return fileURLToPath(main);
}

// CPU time of the children this process has waited for (Linux /proc: cutime + cstime, in clock
// ticks): unlike wall time, it hardly grows when other work shares the machine.
const TICK_MS = 1000 / Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout || 100);
const childrenCpuMs = () => {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS; // fields 16 and 17 of proc(5)
};

/** Wall and CPU time of one process, ms; it must succeed and print `expect` (a hit) when given. */
function timed(args: string[], expect?: string): { wall: number; cpu: number } {
  const cpu = childrenCpuMs();
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: "utf8", cwd: REPO });
  const wall = performance.now() - t;
  if (r.status !== 0 || (expect !== undefined && !r.stdout.includes(expect)))
    throw new Error(`node ${args.join(" ")} failed (${r.status}):\n${r.stderr}${r.stdout.slice(0, 500)}`);
  return { wall, cpu: childrenCpuMs() - cpu };
}

// The command's steps, run in a child process on the same dist/ modules (what cli/search.ts does
// for one query), each timed from the process start (performance.now() in Node counts from there).
const STAGES = `
const [dist, home, name, query] = process.argv.slice(1);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const marks = [["node start", performance.now(), cpu()]];
const mark = (s) => marks.push([s, performance.now(), cpu()]);
const mod = (p) => import(new URL(p, dist).href);
await import("commander");
await mod("cli/search.js");
const { Collection } = await mod("index/collection.js");
const { searchDetailed } = await mod("index/search.js");
mark("imports (commander, cli/search.js)");
const col = await Collection.open(name, { home });
mark("Collection.open (manifest, LanceDB tables)");
await col.view(false);
mark("documents and chunks (LanceDB reads)");
await col.bm25();
mark("BM25 index (bm25.xlir)");
const r = await searchDetailed(col, query, { mode: "bm25", lang: "en", k: 10 });
if (r.hits.length === 0) throw new Error("no hits");
mark("search + hit texts");
await col.close();
mark("close");
process.stdout.write(JSON.stringify(marks));
`;

const c = cpu();
const vnni = c.flags.includes("avx512_vnni") ? "yes" : "no";
const bf16 = c.flags.includes("avx512_bf16") ? "yes" : "no";
console.log(`# xlir search cold start: ${nDocs} documents, BM25`);
console.log(`CPU: ${c.model}; avx512_vnni ${vnni}, avx512_bf16 ${bf16}; Node ${process.version}`);

const main = distMain();
const docs = corpus(nDocs);
let t = performance.now();
const col = await Collection.openOrCreate(NAME, { home, model: "bm25" });
await addDocuments(col, docs, { batchSize: 1000 });
await col.close();
console.log(`collection: ${docs.length} documents indexed in ${fmt((performance.now() - t) / 1000)} s`);

// the top hit as the command prints it for --lang en, so every timed run is checked to find it
const search = (lang: string) => [main, "search", NAME, query, "--lang", lang, "--home", home];
const first = spawnSync(process.execPath, search("en"), { encoding: "utf8", cwd: REPO });
const top = /^\s+1\s+\S+\s+(\S+)/.exec(first.stdout)?.[1];
if (first.status !== 0 || top === undefined) throw new Error(`search failed:\n${first.stderr}`);

const rows: [string, string[], string | undefined][] = [
  ["node -e 0 (bare Node start)", ["-e", "0"], undefined],
  ["xlir search --lang en", search("en"), top],
  ["xlir search (--lang auto)", search("auto"), undefined],
];
const times = rows.map((): { wall: number; cpu: number }[] => []);
t = performance.now();
const load = loadavg()[0];
for (let i = 0; i < runs; i++) rows.forEach(([, args, expect], r) => times[r].push(timed(args, expect)));
console.log(
  `\n${runs} runs each, interleaved (${fmt((performance.now() - t) / 1000)} s; load average ` +
    `${load.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after, on ${availableParallelism()} cores)`,
);
const bare = median(times[0].map((x) => x.wall));
printTable([
  ["process", "median wall ms", "min wall ms", "minus bare Node ms", "/ 0.5 s goal", "median CPU ms"],
  ...rows.map(([label], r) => {
    const walls = times[r].map((x) => x.wall);
    const m = median(walls);
    const cpu = median(times[r].map((x) => x.cpu));
    return [label, fmt(m), fmt(Math.min(...walls)), fmt(m - bare), fmt(m / GOAL_MS, 2), fmt(cpu, 0)];
  }),
]);
console.log("(CPU: user + system time of the process, all threads; wall time on a busy machine is more)");

const distUrl = pathToFileURL(join(dirname(main), "..") + "/").href;
const s = spawnSync(process.execPath, ["--input-type=module", "-e", STAGES, distUrl, home, NAME, query], {
  encoding: "utf8",
  cwd: REPO,
});
if (s.status !== 0) throw new Error(`stage breakdown failed:\n${s.stderr}`);
const marks = JSON.parse(s.stdout) as [string, number, number][];
console.log(`\nWhere one search (--lang en) spends its time, one run (CPU: all threads, LanceDB's too):`);
printTable([
  ["stage", "wall ms", "CPU ms", "at wall ms"],
  ...marks.map(([stage, at, cpu], i) => [
    stage,
    fmt(at - (i ? marks[i - 1][1] : 0)),
    fmt(cpu - (i ? marks[i - 1][2] : 0)),
    fmt(at),
  ]),
]);

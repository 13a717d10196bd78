// Task names as `xlir eval run` takes them, and where each one's data lives under the data folder
// (the layout of the project's shared data: xquad-r/, tatoeba/, flores200/, nllb-seed/); `beir:`
// also takes a hub dataset id and `miracl:` always reads the hub (both cached in the HF cache).
// `pairs:FILE[,FILE...]` reads (query, positive) pair files: each path as given (absolute, or
// relative to the current folder), else under the data folder.
import { existsSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { floresTask, nllbSeedTask, tatoebaTask } from "./bitext.ts";
import type { ResolveOptions } from "../../weights/hub.ts";
import { isHubDatasetId, resolveBeirFolder } from "../datasets/beir.ts";
import { beirTask, miraclTask } from "./beir.ts";
import { pairsTask } from "./pairs.ts";
import type { EvalTask } from "./task.ts";
import { xquadRPairsTask, xquadRPooledTask } from "./xquad-r.ts";

export interface TaskOptions {
  /** The data folder (holding xquad-r/, tatoeba/, ...); `beir:` folders may be given whole instead. */
  data?: string;
  langs?: readonly string[];
  limit?: number;
  /** BEIR qrels split / FLORES-200 split. */
  split?: string;
  /** Hub settings for `beir:org/name` and `miracl:`; default: the HF_* environment variables. */
  hub?: ResolveOptions;
}

interface Known {
  folder: string;
  what: string;
  make: (dir: string, o: TaskOptions) => EvalTask;
}

const KNOWN: Record<string, Known> = {
  "xquad-r": { folder: "xquad-r", what: "XQuAD-R per language pair", make: xquadRPairsTask },
  "xquad-r-pooled": {
    folder: "xquad-r",
    what: "XQuAD-R in LAReQA's multilingual pool",
    make: xquadRPooledTask,
  },
  tatoeba: { folder: "tatoeba", what: "Tatoeba bitext mining", make: tatoebaTask },
  flores: { folder: "flores200", what: "FLORES-200 bitext mining", make: floresTask },
  "nllb-seed": { folder: "nllb-seed", what: "NLLB-Seed bitext mining", make: nllbSeedTask },
};

/** For help texts: every task name with what it runs. */
export const TASK_HELP: readonly string[] = [
  ...Object.entries(KNOWN).map(([name, k]) => `${name} (${k.what}; <data>/${k.folder})`),
  "beir:<folder> (BEIR-format retrieval; a folder under <data>, a path, or a hub dataset org/name)",
  "miracl:<lang> (MIRACL retrieval in one language, e.g. miracl:hi; from the Hugging Face hub)",
  "pairs:<file>[,<file>...] (query-positive pair files as xlir train reads them: MRR, R@1/5/10 per query language against all positives; a path, else under <data>)",
];

export async function loadTask(name: string, opts: TaskOptions = {}): Promise<EvalTask> {
  let task: EvalTask;
  if (name.startsWith("beir:")) {
    const folder = name.slice("beir:".length);
    if (folder === "") throw new Error(`task "beir:" names no folder; give beir:<folder>, e.g. beir:hindi`);
    const local = beirFolder(folder, opts.data);
    const hub = !existsSync(local) && isHubDatasetId(folder);
    const dir = hub ? await resolveBeirFolder(folder, opts.hub) : local;
    task = await beirTask(dir, hub ? { ...opts, name: folder } : opts);
  } else if (name.startsWith("miracl:")) {
    const lang = name.slice("miracl:".length);
    if (lang === "") throw new Error(`task "miracl:" names no language; give miracl:<lang>, e.g. miracl:hi`);
    task = await miraclTask(lang, opts);
  } else if (name.startsWith("pairs:")) {
    const files = name.slice("pairs:".length);
    if (files === "")
      throw new Error(`task "pairs:" names no file; give pairs:<file>, e.g. pairs:test.jsonl`);
    const paths = files.split(",").map((f) => pairsFile(f, opts.data));
    task = await pairsTask(paths, { ...opts, name });
  } else {
    const known = KNOWN[name];
    if (!known)
      throw new Error(
        `unknown task "${name}"; use one of ${[...Object.keys(KNOWN), "beir:<folder>", "miracl:<lang>", "pairs:<file>"].join(", ")}`,
      );
    task = known.make(join(dataDir(opts.data, name), known.folder), opts);
  }
  if (task.settings.length === 0)
    throw new Error(`task "${name}" has nothing to run with these languages; check --langs`);
  return task;
}

function dataDir(data: string | undefined, task: string): string {
  if (data === undefined || data === "")
    throw new Error(
      `task "${task}" needs the evaluation data: pass --data DIR (the folder holding xquad-r/, tatoeba/, ...) or set XLIR_DATA`,
    );
  if (!existsSync(data)) throw new Error(`--data ${data}: no such folder; pass the evaluation data folder`);
  return data;
}

/** An absolute or ./-relative path as given; any other name under the data folder, else as given. */
function beirFolder(folder: string, data: string | undefined): string {
  if (isAbsolute(folder) || folder.startsWith(".")) return resolve(folder);
  if (data !== undefined && existsSync(join(data, folder))) return join(data, folder);
  return resolve(folder);
}

/** A pair file: absolute, or relative to the current folder; else under the data folder. */
function pairsFile(file: string, data: string | undefined): string {
  const what = `give a pairs file (JSONL {"query", "positive"} rows or TSV query<TAB>positive)`;
  if (file === "")
    throw new Error(`task "pairs:" has an empty file name in its list; separate files with one ","`);
  const under = data !== undefined && data !== "" && !isAbsolute(file) ? join(data, file) : undefined;
  const path = existsSync(file) || under === undefined || !existsSync(under) ? file : under;
  if (!existsSync(path))
    throw new Error(
      `pairs:${file}: no such file${isAbsolute(file) ? "" : " in the current folder"}${under !== undefined ? ` or under --data ${data}` : ""}; ${what}`,
    );
  if (!statSync(path).isFile()) throw new Error(`pairs:${file}: ${path} is not a file; ${what}`);
  return resolve(path);
}

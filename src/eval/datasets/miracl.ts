// MIRACL (Zhang et al., 2023) from the Hugging Face hub, one language at a time, downloaded into the
// hub cache on first use. Assumed layout (that of the hub's own copies, which the MIRACL loading
// script reads):
//   miracl/miracl         miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-{split}.tsv  qid<TAB>query
//                         miracl-v1.0-{lang}/qrels/qrels.miracl-v1.0-{lang}-{split}.tsv    qid Q0 docid rel
//   miracl/miracl-corpus  miracl-corpus-v1.0-{lang}/docs-{n}.jsonl.gz  {"docid", "title", "text"}
// Judged splits are "train" and "dev" (the test sets' qrels are held out). The corpus is loaded
// whole, as BEIR folders are: large languages (en, zh) need memory to match.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { resolveNllbLang } from "../../text/nllb-langs.ts";
import { HubFilesMissingError, resolveDataset, type ResolveOptions } from "../../weights/hub.ts";
import { readQrels } from "../qrels.ts";
import { eachLine } from "./beir.ts";
import type { Doc, Query, RetrievalTask } from "./task.ts";

export interface MiraclOptions {
  /** Topics and qrels split. Default "dev". */
  split?: string;
  /** Hub settings: cache, endpoint, token, offline, revision of both repos. */
  hub?: ResolveOptions;
  /** Default "miracl/miracl". */
  topicsRepo?: string;
  /** Default "miracl/miracl-corpus". */
  corpusRepo?: string;
}

/** The 18 MIRACL languages (ISO 639-1), as in the folder names. */
export const MIRACL_LANGS: readonly string[] = "ar bn de en es fa fi fr hi id ja ko ru sw te th yo zh".split(
  " ",
);

/** One MIRACL language as a task: the split's judged topics against the language's corpus. */
export async function loadMiracl(lang: string, opts: MiraclOptions = {}): Promise<RetrievalTask> {
  const split = opts.split ?? "dev";
  const topicsRepo = opts.topicsRepo ?? "miracl/miracl";
  const corpusRepo = opts.corpusRepo ?? "miracl/miracl-corpus";
  // Both become parts of repo paths, so nothing may climb out of the language's folder.
  if (!/^[a-z]{2,3}$/.test(lang))
    throw new Error(
      `MIRACL language "${lang}" is not a code like "hi"; use one of ${MIRACL_LANGS.join(", ")}`,
    );
  if (!/^[\w-]+$/.test(split)) throw new Error(`MIRACL split "${split}" is not a name like "dev"; check it`);

  const base = `miracl-v1.0-${lang}`;
  const topicsPath = `${base}/topics/topics.${base}-${split}.tsv`;
  const qrelsPath = `${base}/qrels/qrels.${base}-${split}.tsv`;
  const topicsDir = await fetchLang(
    topicsRepo,
    [topicsPath, qrelsPath],
    lang,
    /^miracl-v1\.0-([^/]+)\//,
    opts,
    (files) => {
      // The language is there but not the split: name the splits it has.
      const b = base.replace(/\./g, "\\.");
      const topic = new RegExp(`^${b}/topics/topics\\.${b}-(.+)\\.tsv$`);
      const splits = files.map((f) => topic.exec(f)?.[1]).filter((x) => x !== undefined);
      return splits.length
        ? `MIRACL "${lang}" has no split "${split}" in ${topicsRepo} (no ${topicsPath}); splits there: ${splits.sort().join(", ")}`
        : undefined;
    },
  );
  for (const path of [topicsPath, qrelsPath])
    if (!existsSync(join(topicsDir, path)))
      throw new Error(
        `MIRACL "${lang}" has no ${path} in ${topicsRepo}; judged splits are "dev" and "train" (--split), or go online if the cache is partial`,
      );

  const corpusDirName = `miracl-corpus-v1.0-${lang}`;
  const corpusDir = await fetchLang(
    corpusRepo,
    [`${corpusDirName}/docs-*.jsonl.gz`],
    lang,
    /^miracl-corpus-v1\.0-([^/]+)\//,
    opts,
  );
  const shards = docShards(join(corpusDir, corpusDirName));
  if (shards.length === 0)
    throw new Error(
      `MIRACL "${lang}": no docs-*.jsonl.gz under ${join(corpusDir, corpusDirName)}; go online once to download the corpus`,
    );

  const nllb = nllbOf(lang);
  const qrelsFile = join(topicsDir, qrelsPath);
  const qrels = readQrels(qrelsFile);
  const queries = await readTopics(join(topicsDir, topicsPath), (id) => qrels.has(id), nllb);
  const known = new Set(queries.map((q) => q.id));
  const missing = [...qrels.keys()].find((q) => !known.has(q));
  if (missing !== undefined)
    throw new Error(
      `${qrelsFile}: query "${missing}" is judged but not in the topics file; the files do not belong together`,
    );

  const corpus: Doc[] = [];
  for (const file of shards) await readDocs(join(corpusDir, corpusDirName, file), corpus, nllb);
  return { corpus, queries, qrels };
}

/** The repo's snapshot holding `files`; a language the repo lacks is named with those it has. */
async function fetchLang(
  repo: string,
  files: string[],
  lang: string,
  folder: RegExp,
  opts: MiraclOptions,
  other?: (available: readonly string[]) => string | undefined,
): Promise<string> {
  try {
    return await resolveDataset(repo, { ...opts.hub, files });
  } catch (e) {
    if (!(e instanceof HubFilesMissingError)) throw e;
    const message = other?.(e.available);
    if (message) throw new Error(message, { cause: e });
    const langs = [...new Set(e.available.map((f) => folder.exec(f)?.[1]).filter((l) => l !== undefined))];
    throw new Error(
      `MIRACL has no language "${lang}" in ${repo} (no ${files[0]}); languages there: ${langs.sort().join(", ") || "none"}`,
      { cause: e },
    );
  }
}

/** docs-0.jsonl.gz, docs-1.jsonl.gz, ... in numeric order, so doc order matches the release. */
function docShards(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const n = (f: string) => Number(/^docs-(\d+)\.jsonl\.gz$/.exec(f)?.[1] ?? NaN);
  return readdirSync(dir)
    .filter((f) => !Number.isNaN(n(f)))
    .sort((a, b) => n(a) - n(b));
}

/** `qid<TAB>query` lines; only judged topics are kept (as BEIR keeps judged queries), in file order. */
async function readTopics(file: string, judged: (id: string) => boolean, lang: string): Promise<Query[]> {
  const queries: Query[] = [];
  await eachLine(file, (line, n) => {
    if (line.trim() === "") return;
    const tab = line.indexOf("\t");
    if (tab <= 0) throw new Error(`${file}:${n}: expected "qid<TAB>query", got ${JSON.stringify(line)}`);
    const id = line.slice(0, tab);
    if (judged(id)) queries.push({ id, text: line.slice(tab + 1), lang });
  });
  return queries;
}

async function readDocs(file: string, into: Doc[], lang: string): Promise<void> {
  await eachLine(file, (line, n) => {
    if (line.trim() === "") return;
    let r: { docid?: unknown; title?: unknown; text?: unknown };
    try {
      r = JSON.parse(line) as typeof r;
    } catch (e) {
      throw new Error(
        `${file}:${n}: invalid JSON (${(e as Error).message}); delete the file to download it again`,
        {
          cause: e,
        },
      );
    }
    if (typeof r?.docid !== "string" || typeof r.text !== "string")
      throw new Error(`${file}:${n}: expected {"docid", "title", "text"} with string docid and text`);
    const title = typeof r.title === "string" && r.title ? { title: r.title } : {};
    into.push({ id: r.docid, text: r.text, ...title, lang });
  });
}

/** The NLLB-200 code where there is one (hi -> hin_Deva), else the code as MIRACL writes it. */
function nllbOf(lang: string): string {
  try {
    return resolveNllbLang(lang);
  } catch {
    return lang;
  }
}

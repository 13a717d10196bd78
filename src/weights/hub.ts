// Turns a model or dataset name into a local folder: a folder given as is, or a Hugging Face repo
// downloaded into the standard hub cache ($HF_HUB_CACHE/models--org--name/ or datasets--org--name/,
// each {blobs,refs,snapshots}), the layout Python's huggingface_hub reads and writes, so a repo
// fetched by either is reused by the other.
import { existsSync, statSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { getHFHubCachePath, getRepoFolderName } from "@huggingface/hub";
import {
  downloadBlob,
  headFile,
  hubRequest,
  HubUnreachableError,
  infoUrl,
  named,
  type DownloadProgress,
  type HubContext,
  type RepoType,
} from "./hub-http.ts";

export type { DownloadProgress, RepoType } from "./hub-http.ts";

export interface ResolveOptions {
  /** Branch, tag or commit sha; also written `org/name@revision`. Default "main". */
  revision?: string;
  /**
   * Files to fetch: names or globs (`*` stays within a folder, `**` crosses folders). `a|b` takes
   * the first alternative the repo has. Missing files are skipped. Default DEFAULT_ENCODER_FILES
   * for a model, every file ("**") for a dataset.
   */
  files?: readonly string[];
  /** What kind of hub repo `idOrDir` names. Default "model". */
  repoType?: RepoType;
  /** Hub cache folder. Default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Hub address. Default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated or private repos. Default $HF_TOKEN. */
  token?: string;
  /** Use the cache only. Default: $HF_HUB_OFFLINE is 1/true/yes/on. */
  offline?: boolean;
  /** Ask the hub even when the cache holds the files (picks up new commits on a branch). */
  refresh?: boolean;
  /** Longest wait for an answer or for the next bytes of a download, in ms. Default 10 000. */
  timeoutMs?: number;
  onProgress?: (p: DownloadProgress) => void;
}

/**
 * What an encoder checkpoint needs: config, tokenizer, sentence-transformers modules, Aggretriever
 * heads, colbert-ai's artifact.metadata (what tells a ColBERT checkpoint), and the weights, safetensors first (one file, or an index whose shards come with it),
 * torch .bin last (a head's .pt only so that the error can say how to convert it).
 */
export const DEFAULT_ENCODER_FILES: readonly string[] = [
  "config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "modules.json",
  "sentence_bert_config.json",
  "config_sentence_transformers.json",
  "1_Pooling/config.json",
  "2_Dense/config.json",
  "2_Dense/model.safetensors|2_Dense/pytorch_model.bin",
  "aggretriever_config.json",
  "pooler_config.json",
  "pooler.safetensors|pooler.pt",
  "TermWeightTrans_config.json",
  "TermWeightTrans.safetensors|TermWeightTrans.pt",
  "artifact.metadata",
  "model.safetensors|model.safetensors.index.json|pytorch_model.bin|pytorch_model.bin.index.json",
];

const DEFAULT_ENDPOINT = "https://huggingface.co";

/**
 * A local folder holding the model's files: `idOrDir` itself when it is a folder, else the cache
 * snapshot of the hub repo `idOrDir` (`org/name` or `org/name@revision`), downloading what the
 * cache lacks. When the cache already answers, nothing goes over the network.
 */
export async function resolveModel(idOrDir: string, opts: ResolveOptions = {}): Promise<string> {
  const type = opts.repoType ?? "model";
  const local = await localFolder(idOrDir, type);
  if (local) return local;
  // A name written like a path was meant as a folder: say it is missing, not that the hub is
  // unreachable or that the name is a bad repo id.
  if (looksLikePath(idOrDir))
    throw new Error(
      `${type === "model" ? "Model" : "Dataset"} folder "${idOrDir}" does not exist (${resolve(expandHome(idOrDir))}); check the path, or give a hub id like "org/name".`,
    );
  const { repo, revision } = parseModelId(idOrDir, opts.revision, type);
  const label = named({ repo, repoType: type });
  const cacheDir = resolve(opts.cacheDir ?? getHFHubCachePath());
  const store = join(cacheDir, getRepoFolderName({ type, name: repo }));
  const wanted = (opts.files ?? (type === "model" ? DEFAULT_ENCODER_FILES : ["**"])).map((f) => f.split("|"));
  const outside = wanted.flat().find((f) => !safeRelative(f));
  if (outside !== undefined)
    throw new Error(
      `File "${outside}" asked for ${label} is not a path inside the repo (like "1_Pooling/config.json"); fix the file list.`,
    );

  const cachedSha = isCommit(revision) ? revision : await readRef(store, revision);
  const snapshot = cachedSha ? join(store, "snapshots", cachedSha) : undefined;
  const cached = snapshot !== undefined && (await cacheAnswers(store, cachedSha!, wanted, label, type));
  if (cached && !opts.refresh) return snapshot;

  if (opts.offline ?? isTruthy(process.env.HF_HUB_OFFLINE)) {
    // As huggingface_hub offline: a snapshot that exists is used even if partial; the loader then
    // names the file it misses.
    if (snapshot && (await isDir(snapshot))) return snapshot;
    throw new Error(
      `${named({ repo, repoType: type }, true)} (revision "${revision}") is not in the Hugging Face cache at ${cacheDir} and offline mode is on (HF_HUB_OFFLINE); ` +
        `download it once online, or pass a local ${type} folder.`,
    );
  }

  const ctx: HubContext = {
    endpoint: (opts.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    repo,
    repoType: type,
    revision,
    token: (opts.token ?? process.env.HF_TOKEN)?.trim() || undefined,
    timeoutMs: opts.timeoutMs ?? 10_000,
  };
  try {
    return await download(ctx, store, wanted, opts.onProgress);
  } catch (err) {
    // As huggingface_hub: a cached copy still serves when the hub cannot be reached.
    if (err instanceof HubUnreachableError && cached) return snapshot;
    // The id may have been meant as a folder: say that there is none before blaming the network.
    if (err instanceof HubUnreachableError)
      throw new HubUnreachableError(
        `No ${type} folder "${idOrDir}" exists (${resolve(idOrDir)}), and ${err.message[0].toLowerCase()}${err.message.slice(1)}`,
        { cause: err },
      );
    throw cacheWriteError(err, cacheDir, label);
  }
}

/**
 * The cache snapshot of the hub dataset `id` (`org/name` or `org/name@revision`) holding `files`
 * (names, globs, `a|b` alternatives, as for models), or `id` itself when it is a local folder.
 */
export function resolveDataset(id: string, opts: ResolveOptions = {}): Promise<string> {
  return resolveModel(id, { ...opts, repoType: "dataset" });
}

/** The hub repo has none of the files asked for; `available` lists what it has, for the caller. */
export class HubFilesMissingError extends Error {
  constructor(
    message: string,
    readonly available: readonly string[],
  ) {
    super(message);
  }
}

/** Splits `org/name@revision`; the id is checked as huggingface_hub's validate_repo_id does. */
export function parseModelId(
  id: string,
  revision?: string,
  type: RepoType = "model",
): { repo: string; revision: string } {
  const Kind = type === "model" ? "Model" : "Dataset";
  const at = id.indexOf("@");
  const repo = at < 0 ? id : id.slice(0, at);
  const inline = at < 0 ? undefined : id.slice(at + 1);
  if (
    !/^([\w.-]+\/)?[\w.-]+$/.test(repo) ||
    /--|\.\.|(^|\/)[.-]|[.-](\/|$)|\.git$/.test(repo) ||
    repo.length > 96 ||
    inline === ""
  )
    throw new Error(
      `${Kind} "${id}" is neither a local folder nor a Hugging Face repo id like "org/name" or "org/name@revision"; check the path or the id.`,
    );
  if (inline && revision && inline !== revision)
    throw new Error(
      `${Kind} "${id}" names revision "${inline}" but the revision option is "${revision}"; give one.`,
    );
  const rev = inline ?? revision ?? "main";
  // The revision becomes a path under refs/, as in huggingface_hub (refs/pr/1 included).
  if (!safeRelative(rev))
    throw new Error(
      `Revision "${rev}" of ${type} "${repo}" is not a valid branch, tag or commit sha; check it.`,
    );
  return { repo, revision: rev };
}

/**
 * True when `name` can only be a path: it starts with ./ ../ / ~ (or a drive letter), has a
 * backslash, more than the one slash of "org/name", or its first part exists here as a folder.
 */
export function looksLikePath(name: string): boolean {
  if (/^(\.{1,2}([/\\]|$)|[/\\~]|[A-Za-z]:[/\\])/.test(name) || name.includes("\\")) return true;
  const parts = name.split("@")[0].split("/");
  if (parts.length > 2) return true;
  return parts.length === 2 && existsSync(parts[0]) && statSync(parts[0]).isDirectory();
}

/** "~" and "~/x" as the shell would expand them (a quoted argument reaches us unexpanded). */
function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

/**
 * The hub repo a folder is a cache snapshot of (…/models--org--name/snapshots/<sha>), or null:
 * the cache layout records the id a checkpoint was downloaded as, whatever path it is loaded by.
 */
export function hubRepoOf(dir: string): string | null {
  const m = /(?:^|[/\\])models--([^/\\]+)[/\\]snapshots[/\\][^/\\]+[/\\]?$/.exec(dir);
  if (!m) return null;
  // repo ids cannot contain "--" (parseModelId), so the folder name splits unambiguously
  const parts = m[1].split("--");
  return parts.length <= 2 && parts.every(Boolean) ? parts.join("/") : null;
}

async function localFolder(name: string, type: RepoType): Promise<string | undefined> {
  const path = expandHome(name);
  const s = await stat(path).catch(() => undefined);
  if (!s) return undefined;
  if (s.isDirectory()) return resolve(path);
  throw new Error(
    type === "model"
      ? `Model path "${path}" is a file; pass the folder that holds config.json and the weights.`
      : `Dataset path "${path}" is a file; pass the dataset's folder or a hub dataset id.`,
  );
}

async function download(
  ctx: HubContext,
  store: string,
  wanted: string[][],
  onProgress?: (p: DownloadProgress) => void,
): Promise<string> {
  const info = await repoInfo(ctx);
  const sha = info.sha;
  if (ctx.revision !== sha) await writeFileIn(join(store, "refs", ctx.revision), sha);

  const available = new Set(info.filePaths ?? []);
  const picked = wanted.map((alts) => pick(alts, available));
  // Files known to be absent are recorded where huggingface_hub records them, so the next call
  // (from Python too) knows without asking.
  for (const name of picked.flatMap((p) => p.absent))
    await writeFileIn(join(store, ".no_exist", sha, name), "");
  const files = [...new Set(picked.flatMap((p) => p.hit))];
  if (!files.length)
    throw new HubFilesMissingError(
      `${named(ctx, true)} (revision "${ctx.revision}") has none of the files asked for (${wanted.map((a) => a.join("|")).join(", ")}); check the file list or the repo id.`,
      [...available],
    );

  const snapshot = join(store, "snapshots", sha);
  for (const file of files) await fetchFile(ctx, store, sha, file, onProgress);
  // Shard indexes are a model convention; a dataset's *.index.json is just a file.
  const indexes = ctx.repoType === "dataset" ? [] : files.filter(isShardIndex);
  for (const index of indexes)
    for (const shard of await shardsOf(snapshot, index, named(ctx)))
      await fetchFile(ctx, store, sha, shard, onProgress);
  return snapshot;
}

/**
 * The commit behind the revision and the repo's file list, in one call (as snapshot_download):
 * GET /api/{models,datasets}/{repo}/revision/{rev}, whose `siblings` list every file.
 */
async function repoInfo(ctx: HubContext): Promise<{ sha: string; filePaths?: string[] }> {
  const notHub = `; check that HF_ENDPOINT points at a Hugging Face hub`;
  let info: { sha?: unknown; siblings?: { rfilename?: unknown }[] };
  const res = await hubRequest(ctx, infoUrl(ctx), { headers: { Accept: "application/json" } });
  try {
    info = (await res.json()) as typeof info;
  } catch (err) {
    throw new Error(`The hub at ${ctx.endpoint} sent no JSON for ${named(ctx)}${notHub}.`, { cause: err });
  }
  const sha = info?.sha;
  if (typeof sha !== "string" || !safeRelative(sha) || sha.includes("/"))
    throw new Error(
      `The hub at ${ctx.endpoint} sent no commit for ${named(ctx)} (revision "${ctx.revision}")${notHub}.`,
    );
  const siblings = Array.isArray(info.siblings) ? info.siblings : undefined;
  return { sha, filePaths: siblings?.map((s) => s?.rfilename).filter((f) => typeof f === "string") };
}

/** Puts one file into snapshots/<sha>/ as a link to its blob, downloading the blob if missing. */
async function fetchFile(
  ctx: HubContext,
  store: string,
  sha: string,
  file: string,
  onProgress?: (p: DownloadProgress) => void,
): Promise<void> {
  if (!safeRelative(file))
    throw new Error(
      `${named(ctx, true)} lists an unsafe file path "${file}"; refusing to write outside the cache.`,
    );
  const pointer = join(store, "snapshots", sha, ...file.split("/"));
  if (await isFile(pointer)) return;
  const meta = await headFile(ctx, sha, file);
  const blob = join(store, "blobs", meta.etag);
  await mkdir(dirname(blob), { recursive: true });
  if (!(await isFile(blob)))
    await downloadBlob(ctx, { url: meta.url, file, size: meta.size, dest: blob }, onProgress);
  await linkBlob(blob, pointer);
}

// Relative links, as huggingface_hub makes them, survive moving the cache; where symlinks are not
// allowed (Windows without developer mode) the file is copied, as huggingface_hub does.
async function linkBlob(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
  } catch {
    await copyFile(blob, pointer);
  }
}

/** True when the cached snapshot holds every wanted group, or knows the group's files are absent. */
async function cacheAnswers(
  store: string,
  sha: string,
  wanted: string[][],
  repo: string,
  type: RepoType,
): Promise<boolean> {
  const snapshot = join(store, "snapshots", sha);
  const present = await filesUnder(snapshot);
  if (!present.size) return false;
  for (const alts of wanted) {
    const { hit } = pick(alts, present);
    if (hit.length) {
      for (const index of type === "dataset" ? [] : hit.filter(isShardIndex))
        if (!(await shardsOf(snapshot, index, repo)).every((s) => present.has(s))) return false;
      continue;
    }
    // A glob that matched nothing cannot be recorded as absent, so only the hub can answer it.
    if (alts.some(isGlob)) return false;
    for (const name of alts) if (!(await isFile(join(store, ".no_exist", sha, name)))) return false;
  }
  return true;
}

/** The first alternative that names files in `files`, and the plain names tried before it. */
function pick(alts: string[], files: Set<string>): { hit: string[]; absent: string[] } {
  const absent: string[] = [];
  for (const alt of alts) {
    const hit = isGlob(alt) ? [...files].filter((f) => globRegExp(alt).test(f)) : files.has(alt) ? [alt] : [];
    if (hit.length) return { hit, absent };
    if (!isGlob(alt)) absent.push(alt);
  }
  return { hit: [], absent };
}

const isGlob = (pattern: string) => /[*?]/.test(pattern);

function globRegExp(glob: string): RegExp {
  const body = glob
    .split(/(\*\*|\*|\?)/)
    .map((part) =>
      part === "**"
        ? ".*"
        : part === "*"
          ? "[^/]*"
          : part === "?"
            ? "[^/]"
            : part.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${body}$`);
}

const isShardIndex = (file: string) => file.endsWith(".index.json");

/** The shard files a `*.index.json` names in its weight_map, as repo paths. */
async function shardsOf(snapshot: string, index: string, model: string): Promise<string[]> {
  const path = join(snapshot, ...index.split("/"));
  let map: unknown;
  try {
    map = (JSON.parse(await readFile(path, "utf8")) as { weight_map?: unknown }).weight_map;
  } catch {
    map = undefined;
  }
  if (!map || typeof map !== "object")
    throw new Error(
      `Shard index "${index}" of ${model} has no weight_map; delete ${path} and run again, or pass a local folder.`,
    );
  const dir = posix.dirname(index);
  return [...new Set(Object.values(map).map((f) => (dir === "." ? String(f) : `${dir}/${String(f)}`)))];
}

/** Repo paths of the files under a snapshot whose links resolve (a dangling link is no file). */
async function filesUnder(dir: string): Promise<Set<string>> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const files = new Set<string>();
  for (const name of names) if (await isFile(join(dir, name))) files.add(name.split(sep).join("/"));
  return files;
}

async function readRef(store: string, revision: string): Promise<string | undefined> {
  const sha = (await readFile(join(store, "refs", revision), "utf8").catch(() => "")).trim();
  return sha && safeRelative(sha) && !sha.includes("/") ? sha : undefined;
}

async function writeFileIn(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

// Names from the hub (files, shards, revisions) are joined onto the cache folder: none may leave it.
function safeRelative(path: string): boolean {
  return (
    path.length > 0 &&
    !path.includes("\\") &&
    !path.startsWith("/") &&
    path.split("/").every((s) => s && s !== "." && s !== "..")
  );
}

const isCommit = (revision: string) => /^[0-9a-f]{40}$/.test(revision);
const isTruthy = (v: string | undefined) =>
  ["1", "true", "yes", "on"].includes((v ?? "").trim().toLowerCase());
const isFile = (p: string) =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

function cacheWriteError(err: unknown, cacheDir: string, repo: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!code || !["EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT"].includes(code)) return err;
  return new Error(
    `Cannot write ${repo} into the Hugging Face cache at ${cacheDir} (${code}); free disk space or set HF_HUB_CACHE to a writable folder.`,
    { cause: err },
  );
}

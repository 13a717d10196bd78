// HTTP against a Hugging Face hub for hub.ts: the one place that sends the token, bounds every wait,
// resumes partial downloads, and turns the hub's answers into one-line errors naming the repo and
// what to do. Requests and headers follow Python's huggingface_hub so that both fill one cache.
import { open, rename, rm, stat } from "node:fs/promises";

/** Model repos and dataset repos differ only in URLs, cache folder names and wording. */
export type RepoType = "model" | "dataset";

/** Who we are talking to and about which repo; every error message is built from it. */
export interface HubContext {
  endpoint: string;
  repo: string;
  /** Default "model". */
  repoType?: RepoType;
  revision: string;
  token?: string;
  /** Longest wait for an answer, and for the next bytes of a download, in milliseconds. */
  timeoutMs: number;
}

/** Bytes of one file written so far (resumed bytes included) out of its size. */
export interface DownloadProgress {
  file: string;
  bytes: number;
  total: number;
}

/** The hub could not be reached at all; hub.ts falls back to a cached copy on this one. */
export class HubUnreachableError extends Error {}

/** A download broke off midway; the partial file is kept and the next attempt resumes it. */
class Interrupted extends Error {}

// A flaky connection should not cost the bytes already fetched, so a broken download is resumed
// in the same call a few times (huggingface_hub does the same) before the caller is told.
const ATTEMPTS = 3;

/** "model" or "dataset", for messages. */
export const kindOf = (ctx: Pick<HubContext, "repoType">): RepoType => ctx.repoType ?? "model";
/** `model "org/name"` / `dataset "org/name"`; `Model "org/name"` with `capital`. */
export function named(ctx: Pick<HubContext, "repo" | "repoType">, capital = false): string {
  const kind = kindOf(ctx);
  return `${capital ? kind[0].toUpperCase() + kind.slice(1) : kind} "${ctx.repo}"`;
}

// Dataset URLs carry a "datasets/" prefix on the hub, as in huggingface_hub's hf_hub_url.
const prefix = (ctx: HubContext) => (kindOf(ctx) === "dataset" ? "datasets/" : "");

export function resolveUrl(ctx: HubContext, commit: string, file: string): string {
  const path = file.split("/").map(encodeURIComponent).join("/");
  return `${ctx.endpoint}/${prefix(ctx)}${ctx.repo}/resolve/${encodeURIComponent(commit)}/${path}`;
}

/** The info API of the repo at a revision (sha and siblings), as huggingface_hub's model_info. */
export function infoUrl(ctx: HubContext): string {
  return `${ctx.endpoint}/api/${kindOf(ctx)}s/${ctx.repo}/revision/${encodeURIComponent(ctx.revision)}`;
}

/** fetch() that sends the token, gives up after ctx.timeoutMs, and throws on unusable answers. */
export async function hubRequest(
  ctx: HubContext,
  url: string,
  init: RequestInit = {},
  file?: string,
): Promise<Response> {
  const headers = new Headers(init.headers);
  // Sent by us rather than through the library's accessToken, which rejects tokens not starting
  // with "hf_" (those of mirrors and self-hosted endpoints).
  if (ctx.token) headers.set("Authorization", `Bearer ${ctx.token}`);
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(ctx.timeoutMs) });
  } catch (err) {
    throw unreachable(ctx, err);
  }
  if (res.ok || (res.status >= 300 && res.status < 400) || res.status === 416) return res;
  await res.body?.cancel().catch(() => {});
  throw statusError(ctx, res, file);
}

function unreachable(ctx: HubContext, err: unknown): HubUnreachableError {
  return new HubUnreachableError(
    `Cannot reach the Hugging Face hub at ${ctx.endpoint} for ${named(ctx)} (${networkReason(err, ctx)}); ` +
      `pass a local ${kindOf(ctx)} folder, or set HF_HUB_OFFLINE=1 to use a filled cache.`,
    { cause: err },
  );
}

function networkReason(err: unknown, ctx: HubContext): string {
  if (err instanceof Error && err.name === "TimeoutError")
    return `no answer within ${ctx.timeoutMs / 1000} s`;
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause && typeof cause === "object" && "code" in cause && cause.code) return String(cause.code);
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

// The hub says what went wrong in X-Error-Code (as huggingface_hub reads it); the status is the
// fallback. A missing repo answers 401 to anonymous callers, so RepoNotFound is checked first.
function statusError(ctx: HubContext, res: Response, file?: string): Error {
  const code = res.headers.get("X-Error-Code") ?? "";
  const http = `HTTP ${res.status}`;
  const model = named(ctx);
  const Model = named(ctx, true);
  if (code === "RepoNotFound")
    return new Error(
      `${Model} was not found on ${ctx.endpoint} (${http}); check the repo id, or set HF_TOKEN if the ${kindOf(ctx)} is private.`,
    );
  if (code === "RevisionNotFound")
    return new Error(
      `Revision "${ctx.revision}" of ${model} was not found on ${ctx.endpoint} (${http}); check the branch, tag or commit sha.`,
    );
  if (code === "GatedRepo" || res.status === 401 || res.status === 403)
    return new Error(
      ctx.token
        ? `Access to ${model} was refused for the token sent (${http} from ${ctx.endpoint}); it is gated or private: accept its terms on the ${kindOf(ctx)} page with that account, or set HF_TOKEN to a token that has access.`
        : `${Model} is gated or private (${http} from ${ctx.endpoint}); accept its terms on the ${kindOf(ctx)} page and set HF_TOKEN to an access token.`,
    );
  if (res.status === 404 && file)
    return new Error(
      `File "${file}" of ${model} (revision "${ctx.revision}") was not found on ${ctx.endpoint} (${http}); check the file name.`,
    );
  if (res.status === 404)
    return new Error(
      `${Model} or its revision "${ctx.revision}" was not found on ${ctx.endpoint} (${http}); check the repo id and the branch, tag or commit sha.`,
    );
  return new Error(
    `The Hugging Face hub at ${ctx.endpoint} answered ${http} for ${model}${file ? ` file "${file}"` : ""}; ` +
      `try again later, or set HF_HUB_OFFLINE=1 to use a filled cache.`,
  );
}

/** What the hub says about one file at one commit: its blob name in the cache, size and URL. */
export interface FileMeta {
  etag: string;
  size: number;
  url: string;
}

/** HEAD the file the way huggingface_hub does, to name its blob exactly as Python would. */
export async function headFile(ctx: HubContext, commit: string, file: string): Promise<FileMeta> {
  let url = resolveUrl(ctx, commit, file);
  for (let hop = 0; ; hop++) {
    const res = await hubRequest(
      ctx,
      url,
      { method: "HEAD", redirect: "manual", headers: { "Accept-Encoding": "identity" } },
      file,
    );
    // Only relative redirects (a renamed repo) lead to more hub headers; an absolute one points at
    // the CDN, and X-Linked-Etag / X-Linked-Size on this answer are what names the blob.
    const location = res.headers.get("Location");
    if (res.status >= 300 && res.status < 400 && location?.startsWith("/") && !location.startsWith("//")) {
      if (hop >= 5) break;
      url = new URL(location, url).href;
      continue;
    }
    const etag = normalizeEtag(res.headers.get("X-Linked-Etag") ?? res.headers.get("ETag"));
    const size = Number(res.headers.get("X-Linked-Size") ?? res.headers.get("Content-Length") ?? NaN);
    if (etag && Number.isSafeInteger(size) && size >= 0) return { etag, size, url };
    break;
  }
  throw new Error(
    `The hub at ${ctx.endpoint} sent no usable ETag or size for "${file}" of ${named(ctx)}; check that HF_ENDPOINT points at a Hugging Face hub.`,
  );
}

// As huggingface_hub's _normalize_etag; anything that could not be a file name is refused since
// the etag becomes one under blobs/.
function normalizeEtag(raw: string | null): string | undefined {
  const etag = raw?.replace(/^W\//, "").replace(/^"|"$/g, "");
  return etag && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(etag) ? etag : undefined;
}

/**
 * Downloads `url` into `dest` through `dest + ".incomplete"` (huggingface_hub's name), continuing
 * a partial file left by an earlier attempt or process with an HTTP Range request.
 */
export async function downloadBlob(
  ctx: HubContext,
  job: { url: string; file: string; size: number; dest: string },
  onProgress?: (p: DownloadProgress) => void,
): Promise<void> {
  const partial = `${job.dest}.incomplete`;
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchRest(ctx, job, partial, onProgress);
      break;
    } catch (err) {
      if (!(err instanceof Interrupted || err instanceof HubUnreachableError)) throw err;
      if (attempt < ATTEMPTS) continue;
      const reason = err instanceof Interrupted ? err.message : networkReason(err.cause, ctx);
      throw new Error(
        `Download of "${job.file}" for ${named(ctx)} was interrupted (${reason}) ${ATTEMPTS} times; run again to resume from the partial file.`,
        { cause: err },
      );
    }
  }
  const got = await sizeOf(partial);
  if (got !== job.size) {
    await rm(partial, { force: true });
    throw new Error(
      `Download of "${job.file}" for ${named(ctx)} has ${got} bytes instead of ${job.size}; run again to fetch it afresh.`,
    );
  }
  await rename(partial, job.dest);
}

/** One attempt: fetch what `partial` still lacks and append it. */
async function fetchRest(
  ctx: HubContext,
  job: { url: string; file: string; size: number },
  partial: string,
  onProgress?: (p: DownloadProgress) => void,
): Promise<void> {
  let have = await sizeOf(partial);
  if (have === job.size) return;
  if (have > job.size) have = 0; // not a prefix of this file: start over
  // The deadline is for silence, not for the whole file: it restarts with every chunk.
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => idle.abort(new Interrupted(`no data for ${ctx.timeoutMs / 1000} s`)),
      ctx.timeoutMs,
    );
  };
  arm();
  try {
    const headers: Record<string, string> = { "Accept-Encoding": "identity" };
    if (have > 0) headers.Range = `bytes=${have}-`;
    const res = await hubRequest(ctx, job.url, { headers, signal: idle.signal }, job.file);
    if (res.status === 416) {
      await res.body?.cancel().catch(() => {});
      await rm(partial, { force: true });
      throw new Interrupted("the hub refused to resume the partial file");
    }
    // Only a 206 continues the partial file; a server that ignores Range sends it all again.
    if (res.status !== 206) have = 0;
    const out = await open(partial, have > 0 ? "a" : "w");
    try {
      onProgress?.({ file: job.file, bytes: have, total: job.size });
      const reader = res.body!.getReader();
      for (;;) {
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch (err) {
          throw err instanceof Interrupted ? err : new Interrupted(networkReason(err, ctx));
        }
        if (step.done) break;
        arm();
        await out.write(step.value);
        have += step.value.length;
        onProgress?.({ file: job.file, bytes: have, total: job.size });
      }
    } finally {
      await out.close();
    }
    if (have < job.size) throw new Interrupted(`connection closed after ${have} of ${job.size} bytes`);
  } finally {
    clearTimeout(timer);
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

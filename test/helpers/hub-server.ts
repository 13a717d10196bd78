// A small stand-in for the Hugging Face hub on 127.0.0.1, answering the URLs and headers that
// @huggingface/hub and huggingface_hub use, so the hub code is tested without the network:
//   GET  /api/models/{org}/{name}/revision/{rev}   -> { sha, siblings: [{ rfilename }] }
//   HEAD/GET /{org}/{name}/resolve/{rev}/{path}     -> plain files: 200 with ETag = git blob sha1;
//        LFS files (*.safetensors, *.bin, *.gz): 302 to /cdn/{sha256} with X-Linked-Etag / X-Linked-Size
//   the same under /api/datasets/... and /datasets/{org}/{name}/resolve/... for dataset repos
//   GET  /cdn/{sha256}                              -> the bytes, with Range support
// Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) as the hub's do.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeCommit {
  sha: string;
  files: Record<string, Uint8Array>;
}

export interface FakeRepo {
  id: string;
  /** Default "model"; a dataset is served under /datasets/ and /api/datasets/. */
  type?: "model" | "dataset";
  commits: FakeCommit[];
  /** Branch or tag -> commit sha; tests may move them. */
  refs: Record<string, string>;
  /** When set, files are only served with `Authorization: Bearer <token>` (a gated model). */
  token?: string;
}

export interface HubRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

/** Misbehaviour of the CDN for the next `times` LFS downloads, to test resume and timeouts. */
export interface Fault {
  kind: "drop" | "stall";
  afterBytes: number;
  times: number;
}

export interface FakeHub {
  url: string;
  requests: HubRequest[];
  /** By id for models, by "datasets/" + id for datasets. */
  repos: Map<string, FakeRepo>;
  fault?: Fault;
  close(): Promise<void>;
}

export const sha1Hex = (data: string | Uint8Array) => createHash("sha1").update(data).digest("hex");
export const sha256Hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
/** The git blob id, which the hub sends as ETag for files not stored in LFS. */
export const gitBlobSha = (data: Uint8Array) =>
  createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
export const isLfs = (path: string) => /\.(safetensors|bin|gz)$/.test(path);
const keyOf = (r: FakeRepo) => (r.type === "dataset" ? `datasets/${r.id}` : r.id);

export async function startFakeHub(repos: FakeRepo[]): Promise<FakeHub> {
  const hub: FakeHub = {
    url: "",
    requests: [],
    repos: new Map(repos.map((r) => [keyOf(r), r])),
    close: async () => {
      server.closeAllConnections(); // stalled downloads would keep close() waiting
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
  const server = createServer((req, res) => {
    hub.requests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    try {
      route(hub, req, res);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hub;
}

function route(hub: FakeHub, req: IncomingMessage, res: ServerResponse): void {
  let parts = new URL(req.url ?? "/", hub.url).pathname.split("/").slice(1).map(decodeURIComponent);
  const api = parts[0] === "api" && ["models", "datasets"].includes(parts[1]);
  if (api && parts[4] === "revision" && parts.length === 6) {
    const repo = hub.repos.get(`${parts[1] === "datasets" ? "datasets/" : ""}${parts[2]}/${parts[3]}`);
    if (!repo) return fail(res, 404, "RepoNotFound", "Repository not found");
    const commit = findCommit(repo, parts[5]);
    if (!commit) return fail(res, 404, "RevisionNotFound", `Invalid rev id: ${parts[5]}`);
    // Like the hub, model info stays public for gated models; their files need the token.
    return json(res, {
      _id: sha1Hex(repo.id).slice(0, 24),
      id: repo.id,
      sha: commit.sha,
      private: false,
      gated: repo.token ? "auto" : false,
      downloads: 0,
      likes: 0,
      lastModified: "2024-01-01T00:00:00.000Z",
      siblings: Object.keys(commit.files).map((rfilename) => ({ rfilename })),
    });
  }
  const dataset = parts[0] === "datasets" && parts[3] === "resolve";
  if (dataset) parts = parts.slice(1);
  if (parts[2] === "resolve" && parts.length >= 5) {
    const repo = hub.repos.get(`${dataset ? "datasets/" : ""}${parts[0]}/${parts[1]}`);
    if (!repo) return fail(res, 404, "RepoNotFound", "Repository not found");
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`)
      return fail(res, 401, "GatedRepo", `Access to model ${repo.id} is restricted.`);
    const commit = findCommit(repo, parts[3]);
    if (!commit) return fail(res, 404, "RevisionNotFound", "Revision not found");
    const path = parts.slice(4).join("/");
    const data = commit.files[path];
    if (!data) return fail(res, 404, "EntryNotFound", "Entry not found");
    const common = { "X-Repo-Commit": commit.sha };
    if (isLfs(path)) {
      const sha = sha256Hex(data);
      res.writeHead(302, {
        ...common,
        Location: `${hub.url}/cdn/${sha}`,
        "X-Linked-Etag": `"${sha}"`,
        "X-Linked-Size": String(data.length),
        ETag: `"${gitBlobSha(data)}"`, // the pointer file's id; the linked etag must win
      });
      return void res.end();
    }
    return serveBytes(req, res, data, { ...common, ETag: `"${gitBlobSha(data)}"` });
  }
  if (parts[0] === "cdn" && parts.length === 2) {
    const data = [...hub.repos.values()]
      .flatMap((r) => r.commits.flatMap((c) => Object.values(c.files)))
      .find((d) => sha256Hex(d) === parts[1]);
    if (!data) return fail(res, 404, "", "no such object");
    const fault = hub.fault;
    if (fault && fault.times > 0 && req.method === "GET") {
      fault.times--;
      return misbehave(res, data, fault);
    }
    return serveBytes(req, res, data, { ETag: `"cdn-${parts[1].slice(0, 8)}"` });
  }
  fail(res, 404, "", "unknown route");
}

function findCommit(repo: FakeRepo, rev: string): FakeCommit | undefined {
  const sha = repo.refs[rev] ?? rev;
  return repo.commits.find((c) => c.sha === sha);
}

function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  data: Uint8Array,
  headers: Record<string, string>,
) {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  let [start, end] = [0, data.length - 1];
  if (range) {
    start = Number(range[1]);
    end = range[2] ? Math.min(Number(range[2]), end) : end;
    if (start >= data.length) {
      res.writeHead(416, { "Content-Range": `bytes */${data.length}` });
      return void res.end();
    }
  }
  const body = data.subarray(start, end + 1);
  res.writeHead(range ? 206 : 200, {
    ...headers,
    "Accept-Ranges": "bytes",
    "Content-Length": String(body.length),
    ...(range ? { "Content-Range": `bytes ${start}-${end}/${data.length}` } : {}),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

// Sends the first bytes of a full answer, then cuts the connection ("drop") or goes silent ("stall").
function misbehave(res: ServerResponse, data: Uint8Array, fault: Fault): void {
  res.writeHead(200, { "Content-Length": String(data.length), "Accept-Ranges": "bytes" });
  res.write(data.subarray(0, fault.afterBytes));
  // A short pause lets the client read the bytes before the socket goes away.
  if (fault.kind === "drop") setTimeout(() => res.destroy(), 50);
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "Content-Type": "application/json", ...(code ? { "X-Error-Code": code } : {}) });
  res.end(JSON.stringify({ error: message }));
}

const HF_VARS = [
  "HF_HUB_CACHE",
  "HF_HOME",
  "HF_ENDPOINT",
  "HF_TOKEN",
  "HF_HUB_OFFLINE",
  "HUGGINGFACE_HUB_CACHE",
];

/** Clears the Hugging Face environment (the developer's own settings must not leak in); returns its restore. */
export function isolateHubEnv(): () => void {
  const saved = Object.fromEntries(HF_VARS.map((k) => [k, process.env[k]]));
  for (const k of HF_VARS) delete process.env[k];
  return () => {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  };
}

// Hub download into the standard Hugging Face cache, against a fake hub on 127.0.0.1.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import {
  HubFilesMissingError,
  resolveDataset,
  resolveModel,
  type DownloadProgress,
  type ResolveOptions,
} from "../../src/weights/hub.ts";
import {
  gitBlobSha,
  isolateHubEnv,
  sha1Hex,
  sha256Hex,
  startFakeHub,
  type FakeHub,
  type FakeRepo,
} from "../helpers/hub-server.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A real (tiny) safetensors file: one f32 tensor with n values. */
function safetensors(n: number, seed: number): Uint8Array {
  const header = text(JSON.stringify({ w: { dtype: "F32", shape: [n], data_offsets: [0, 4 * n] } }));
  const out = new Uint8Array(8 + header.length + 4 * n);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  const values = new Float32Array(n).map((_, i) => Math.sin(i * seed));
  out.set(new Uint8Array(values.buffer), 8 + header.length);
  return out;
}

const OLD = sha1Hex("commit-1");
const NEW = sha1Hex("commit-2");
const NEWER = sha1Hex("commit-3");
const oldFiles = {
  "config.json": text('{"model_type":"bert","hidden_size":4,"version":1}'),
  "tokenizer.json": text('{"version":"1.0","model":{"type":"WordPiece"}}'),
  "model.safetensors": safetensors(30_000, 1),
};
const newFiles = {
  ...oldFiles,
  "config.json": text('{"model_type":"bert","hidden_size":4,"version":2}'),
  "1_Pooling/config.json": text('{"pooling_mode_mean_tokens":true}'),
  "pytorch_model.bin": text("torch pickle that must not be fetched when safetensors exist"),
  "README.md": text("# tiny"),
};
const tiny = (): FakeRepo => ({
  id: "org/tiny",
  commits: [
    { sha: OLD, files: oldFiles },
    { sha: NEW, files: newFiles },
  ],
  refs: { main: NEW, dev: OLD, "v1.0": OLD },
});
const gated: FakeRepo = {
  id: "org/gated",
  commits: [{ sha: sha1Hex("gated-1"), files: { "config.json": text("{}") } }],
  refs: { main: sha1Hex("gated-1") },
  token: "hf_secret",
};

const DATA = sha1Hex("data-1");
const dataFiles = {
  "corpus.jsonl.gz": text("pretend gzip, served through the CDN as LFS files are"),
  "queries.jsonl": text('{"_id":"q1","text":"hi"}\n'),
  "qrels/test.tsv": text("query-id\tcorpus-id\tscore\nq1\td1\t1\n"),
  "qrels/dev.tsv": text("query-id\tcorpus-id\tscore\n"),
  "README.md": text("# data"),
};
// Shares its id with the model org/tiny: the two kinds live apart on the hub and in the cache.
const data = (): FakeRepo => ({
  id: "org/tiny",
  type: "dataset",
  commits: [{ sha: DATA, files: dataFiles }],
  refs: { main: DATA },
});
const BEIR_FILES = ["corpus.jsonl|corpus.jsonl.gz", "queries.jsonl|queries.jsonl.gz", "qrels/*.tsv"];

let restoreEnv: () => void;
let hub: FakeHub;
let root: string;
let cache: string;
let n = 0;

before(async () => {
  restoreEnv = isolateHubEnv();
  root = await mkdtemp(join(tmpdir(), "xlir-hub-"));
});
beforeEach(async () => {
  hub = await startFakeHub([tiny(), gated, data()]);
  cache = join(root, `cache-${n++}`);
});
afterEach(() => hub.close());
after(async () => {
  await rm(root, { recursive: true, force: true });
  restoreEnv();
});

const opts = (extra: ResolveOptions = {}): ResolveOptions => ({
  cacheDir: cache,
  endpoint: hub.url,
  timeoutMs: 5_000,
  ...extra,
});
const store = () => join(cache, "models--org--tiny");

async function withEnv<T>(vars: Record<string, string>, run: () => Promise<T>): Promise<T> {
  Object.assign(process.env, vars);
  try {
    return await run();
  } finally {
    for (const k of Object.keys(vars)) delete process.env[k];
  }
}

describe("resolveModel", () => {
  test("returns a local folder as is and names a file given instead", async () => {
    const dir = join(root, "local-model");
    await mkdir(dir, { recursive: true });
    assert.equal(await resolveModel(dir), dir);
    await writeFile(join(dir, "config.json"), "{}");
    await assert.rejects(resolveModel(join(dir, "config.json")), /is a file; pass the folder/);
    assert.equal(hub.requests.length, 0);
  });

  test("downloads into the Hugging Face cache layout: refs, blobs, relative snapshot links", async () => {
    const progress: DownloadProgress[] = [];
    const dir = await resolveModel("org/tiny", opts({ onProgress: (p) => progress.push(p) }));
    assert.equal(dir, join(store(), "snapshots", NEW));
    assert.equal(await readFile(join(store(), "refs", "main"), "utf8"), NEW);

    const weights = newFiles["model.safetensors"];
    assert.equal(
      await readlink(join(dir, "model.safetensors")),
      join("..", "..", "blobs", sha256Hex(weights)),
    );
    const config = newFiles["config.json"];
    assert.equal(await readlink(join(dir, "config.json")), join("..", "..", "blobs", gitBlobSha(config)));
    const pooling = newFiles["1_Pooling/config.json"];
    assert.equal(
      await readlink(join(dir, "1_Pooling", "config.json")),
      join("..", "..", "..", "blobs", gitBlobSha(pooling)),
    );
    assert.deepEqual(await readFile(join(dir, "model.safetensors")), Buffer.from(weights));
    assert.deepEqual(await readFile(join(dir, "config.json")), Buffer.from(config));
    assert.deepEqual(await readFile(join(dir, "tokenizer.json")), Buffer.from(newFiles["tokenizer.json"]));

    // safetensors win over the torch pickle; files the default list does not name stay on the hub
    await assert.rejects(stat(join(dir, "pytorch_model.bin")));
    await assert.rejects(stat(join(dir, "README.md")));
    // absent optional files are recorded where huggingface_hub records them
    await stat(join(store(), ".no_exist", NEW, "tokenizer_config.json"));
    await stat(join(store(), ".no_exist", NEW, "2_Dense", "pytorch_model.bin"));

    const last = progress.filter((p) => p.file === "model.safetensors").at(-1);
    assert.deepEqual(last, { file: "model.safetensors", bytes: weights.length, total: weights.length });
    assert.ok(hub.requests.some((r) => r.path.startsWith(`/cdn/${sha256Hex(weights)}`)));
  });

  test("a second call answers from the cache without the network", async () => {
    const first = await resolveModel("org/tiny", opts());
    const count = hub.requests.length;
    assert.equal(await resolveModel("org/tiny", opts()), first);
    assert.equal(await resolveModel(`org/tiny@${NEW}`, opts()), first);
    assert.equal(hub.requests.length, count);
  });

  test("reuses blobs already in the cache and downloads only new files", async () => {
    await resolveModel("org/tiny", opts({ files: ["config.json"] }));
    const dir = await resolveModel(
      "org/tiny",
      opts({ files: ["config.json", "*.safetensors", "README.md"] }),
    );
    assert.deepEqual(await readFile(join(dir, "README.md")), Buffer.from(newFiles["README.md"]));
    const gets = hub.requests.filter((r) => r.method === "GET" && r.path.includes("/resolve/"));
    assert.equal(gets.filter((r) => r.path.endsWith("/config.json")).length, 1);
  });

  test("finds the cache through HF_HUB_CACHE and the hub through HF_ENDPOINT", async () => {
    await withEnv({ HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url }, async () => {
      assert.equal(await resolveModel("org/tiny"), join(store(), "snapshots", NEW));
    });
  });

  test("pins a revision by commit sha, by branch, by tag and with id@revision", async () => {
    const bySha = await resolveModel("org/tiny", opts({ revision: OLD }));
    assert.equal(bySha, join(store(), "snapshots", OLD));
    assert.deepEqual(await readFile(join(bySha, "config.json")), Buffer.from(oldFiles["config.json"]));
    await assert.rejects(stat(join(store(), "refs", OLD))); // a sha needs no ref, as in huggingface_hub

    assert.equal(await resolveModel("org/tiny", opts({ revision: "dev" })), bySha);
    assert.equal(await readFile(join(store(), "refs", "dev"), "utf8"), OLD);
    assert.equal(await resolveModel("org/tiny@v1.0", opts()), bySha);
    assert.equal(await readFile(join(store(), "refs", "v1.0"), "utf8"), OLD);

    const main = await resolveModel("org/tiny", opts());
    assert.deepEqual(await readFile(join(main, "config.json")), Buffer.from(newFiles["config.json"]));
    await assert.rejects(resolveModel("org/tiny@dev", opts({ revision: "main" })), /give one/);
  });

  test("refresh asks the hub and follows a branch that moved", async () => {
    await resolveModel("org/tiny", opts());
    const repo = hub.repos.get("org/tiny")!;
    repo.commits.push({ sha: NEWER, files: { ...newFiles, "config.json": text('{"version":3}') } });
    repo.refs.main = NEWER;
    assert.equal(await resolveModel("org/tiny", opts()), join(store(), "snapshots", NEW));
    const moved = await resolveModel("org/tiny", opts({ refresh: true }));
    assert.equal(moved, join(store(), "snapshots", NEWER));
    assert.equal(await readFile(join(store(), "refs", "main"), "utf8"), NEWER);
    assert.equal(await readFile(join(moved, "config.json"), "utf8"), '{"version":3}');
  });

  test("offline mode fails clearly before caching and answers from the cache after", async () => {
    await assert.rejects(
      resolveModel("org/tiny", opts({ offline: true })),
      /Model "org\/tiny" \(revision "main"\) is not in the Hugging Face cache .* offline mode is on/,
    );
    const dir = await resolveModel("org/tiny", opts());
    const count = hub.requests.length;
    // even a refresh stays off the network when offline
    assert.equal(await resolveModel("org/tiny", opts({ offline: true, refresh: true })), dir);
    await withEnv({ HF_HUB_OFFLINE: "1" }, async () => {
      assert.equal(await resolveModel("org/tiny", opts()), dir);
      await assert.rejects(
        resolveModel("org/tiny", opts({ revision: "dev" })),
        /not in the Hugging Face cache/,
      );
    });
    assert.equal(hub.requests.length, count);
  });

  test("sends the token as a Bearer header, from the option or HF_TOKEN", async () => {
    await resolveModel("org/gated", opts({ token: "hf_secret" }));
    const sent = hub.requests.filter((r) => r.path.includes("org/gated"));
    assert.ok(sent.length > 0);
    assert.ok(sent.every((r) => r.authorization === "Bearer hf_secret"));

    cache = join(root, `cache-${n++}`);
    await withEnv({ HF_TOKEN: "hf_secret" }, () => resolveModel("org/gated", opts()));
  });

  test("a gated model without a token says to set HF_TOKEN", async () => {
    await assert.rejects(resolveModel("org/gated", opts()), (err: Error) => {
      assert.match(
        err.message,
        /^Model "org\/gated" is gated or private \(HTTP 401 from .*\); .*set HF_TOKEN/,
      );
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    await assert.rejects(
      resolveModel("org/gated", opts({ token: "hf_wrong" })),
      /refused for the token sent.*HF_TOKEN/,
    );
  });

  test("a missing repo or revision gives a 404 message naming it", async () => {
    await assert.rejects(
      resolveModel("org/nope", opts()),
      /^Error: Model "org\/nope" was not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\); check the repo id/,
    );
    await assert.rejects(
      resolveModel("org/tiny@nope", opts()),
      /Revision "nope" of model "org\/tiny" was not found .*\(HTTP 404\); check the branch, tag or commit sha/,
    );
  });

  test("an unreachable hub is named with what to do instead", async () => {
    const closed = await closedPort();
    await assert.rejects(
      resolveModel("org/tiny", opts({ endpoint: `http://127.0.0.1:${closed}` })),
      /^Error: No model folder "org\/tiny" exists \(.*org\/tiny\), and cannot reach the Hugging Face hub at http:\/\/127\.0\.0\.1:\d+ for model "org\/tiny" \(ECONNREFUSED\); pass a local model folder, or set HF_HUB_OFFLINE=1/,
    );
    // with a cached copy, a refresh against a dead hub still answers, as huggingface_hub does
    const dir = await resolveModel("org/tiny", opts());
    assert.equal(
      await resolveModel("org/tiny", opts({ endpoint: `http://127.0.0.1:${closed}`, refresh: true })),
      dir,
    );
  });

  test("rejects names that are neither folders nor repo ids", async () => {
    for (const bad of ["org/tiny@", "org--x/y", "org./x"])
      await assert.rejects(resolveModel(bad, opts()), /is neither a local folder nor a Hugging Face repo id/);
    await assert.rejects(
      resolveModel("org/tiny", opts({ files: ["../../escape"] })),
      /is not a path inside the repo/,
    );
    assert.equal(hub.requests.length, 0);
  });

  test("a connection dropped midway is resumed with a Range request in the same call", async () => {
    const weights = newFiles["model.safetensors"];
    hub.fault = { kind: "drop", afterBytes: 50_000, times: 1 };
    const dir = await resolveModel("org/tiny", opts());
    assert.deepEqual(await readFile(join(dir, "model.safetensors")), Buffer.from(weights));
    const ranges = hub.requests.filter((r) => r.path.startsWith("/cdn/") && r.range);
    assert.equal(ranges.length, 1);
    const from = Number(/^bytes=(\d+)-$/.exec(ranges[0].range!)?.[1]);
    assert.ok(from > 0 && from <= 50_000, `resumed from ${from}`);
    await assert.rejects(stat(join(store(), "blobs", `${sha256Hex(weights)}.incomplete`)));
  });

  test("a download that keeps failing leaves the partial file for the next call to resume", async () => {
    const weights = newFiles["model.safetensors"];
    const partial = join(store(), "blobs", `${sha256Hex(weights)}.incomplete`);
    hub.fault = { kind: "drop", afterBytes: 40_000, times: 99 };
    await assert.rejects(
      resolveModel("org/tiny", opts()),
      /Download of "model.safetensors" for model "org\/tiny" was interrupted .* run again to resume/,
    );
    assert.ok((await stat(partial)).size > 0);

    hub.fault = undefined;
    const dir = await resolveModel("org/tiny", opts());
    assert.deepEqual(await readFile(join(dir, "model.safetensors")), Buffer.from(weights));
  });

  test("a partial .incomplete file left by another process is continued from its end", async () => {
    const weights = newFiles["model.safetensors"];
    const blobs = join(store(), "blobs");
    await mkdir(blobs, { recursive: true });
    await writeFile(join(blobs, `${sha256Hex(weights)}.incomplete`), weights.subarray(0, 12_345));
    const progress: DownloadProgress[] = [];
    const dir = await resolveModel("org/tiny", opts({ onProgress: (p) => progress.push(p) }));
    assert.deepEqual(await readFile(join(dir, "model.safetensors")), Buffer.from(weights));
    const cdn = hub.requests.filter((r) => r.path.startsWith("/cdn/"));
    assert.deepEqual(
      cdn.map((r) => r.range),
      ["bytes=12345-"],
    );
    assert.deepEqual(
      progress.find((p) => p.file === "model.safetensors"),
      {
        file: "model.safetensors",
        bytes: 12_345,
        total: weights.length,
      },
    );
  });

  test("a stalled download gives up after the timeout", async () => {
    hub.fault = { kind: "stall", afterBytes: 1_000, times: 99 };
    await assert.rejects(
      resolveModel("org/tiny", opts({ timeoutMs: 200 })),
      /Download of "model.safetensors" for model "org\/tiny" was interrupted \(no data for 0.2 s\)/,
    );
  });

  test("tolerates missing files, takes globs and alternatives, and fails when nothing matches", async () => {
    const dir = await resolveModel(
      "org/tiny",
      opts({ files: ["config.json", "missing.json", "**/config.json"] }),
    );
    assert.deepEqual(
      await readFile(join(dir, "1_Pooling", "config.json")),
      Buffer.from(newFiles["1_Pooling/config.json"]),
    );
    const alt = await resolveModel("org/tiny", opts({ files: ["nothing.bin|pytorch_model.bin"] }));
    assert.deepEqual(
      await readFile(join(alt, "pytorch_model.bin")),
      Buffer.from(newFiles["pytorch_model.bin"]),
    );
    await assert.rejects(
      resolveModel("org/tiny", opts({ files: ["*.onnx", "missing.json"] })),
      /Model "org\/tiny" \(revision "main"\) has none of the files asked for \(\*\.onnx, missing\.json\)/,
    );
  });

  test("downloads the shards a safetensors index names", async () => {
    const shard1 = safetensors(100, 2);
    const shard2 = safetensors(100, 3);
    const index = {
      metadata: {},
      weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
    };
    const sha = sha1Hex("sharded");
    hub.repos.set("org/sharded", {
      id: "org/sharded",
      refs: { main: sha },
      commits: [
        {
          sha,
          files: {
            "config.json": text("{}"),
            "model.safetensors.index.json": text(JSON.stringify(index)),
            "model-00001-of-00002.safetensors": shard1,
            "model-00002-of-00002.safetensors": shard2,
          },
        },
      ],
    });
    const dir = await resolveModel("org/sharded", opts());
    assert.deepEqual(await readFile(join(dir, "model-00002-of-00002.safetensors")), Buffer.from(shard2));
    const count = hub.requests.length;
    await rm(join(dir, "model-00001-of-00002.safetensors"));
    // a snapshot missing a shard is not complete: the next call fetches it again (from the blob)
    assert.equal(await resolveModel("org/sharded", opts()), dir);
    assert.ok(hub.requests.length > count);
    assert.deepEqual(await readFile(join(dir, "model-00001-of-00002.safetensors")), Buffer.from(shard1));
  });
});

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe("resolveDataset", () => {
  const dstore = () => join(cache, "datasets--org--tiny");

  test("downloads into datasets--org--name from the hub's /datasets/ URLs, globs and alternatives", async () => {
    const dir = await resolveDataset("org/tiny", opts({ files: BEIR_FILES }));
    assert.equal(dir, join(dstore(), "snapshots", DATA));
    assert.equal(await readFile(join(dstore(), "refs", "main"), "utf8"), DATA);
    for (const name of ["corpus.jsonl.gz", "queries.jsonl", "qrels/test.tsv", "qrels/dev.tsv"] as const)
      assert.deepEqual(await readFile(join(dir, name)), Buffer.from(dataFiles[name]), name);
    await assert.rejects(stat(join(dir, "README.md")));
    await stat(join(dstore(), ".no_exist", DATA, "corpus.jsonl"));
    const paths = hub.requests.map((r) => r.path);
    assert.ok(paths.some((p) => p.startsWith("/api/datasets/org/tiny/revision/main")));
    assert.ok(paths.filter((p) => p.includes("/resolve/")).every((p) => p.startsWith("/datasets/org/tiny/")));
    // the model of the same name was neither asked for nor cached
    assert.ok(!paths.some((p) => p.startsWith("/api/models/")));
    await assert.rejects(stat(store()));
  });

  test("a second call answers from the cache; offline mode fails before caching and works after", async () => {
    await assert.rejects(
      resolveDataset("org/tiny", opts({ files: BEIR_FILES, offline: true })),
      /^Error: Dataset "org\/tiny" \(revision "main"\) is not in the Hugging Face cache .* offline mode is on .*local dataset folder/,
    );
    const dir = await resolveDataset("org/tiny", opts({ files: BEIR_FILES }));
    const count = hub.requests.length;
    assert.equal(await resolveDataset("org/tiny", opts({ files: BEIR_FILES })), dir);
    assert.equal(await resolveDataset("org/tiny", opts({ files: BEIR_FILES, offline: true })), dir);
    assert.equal(hub.requests.length, count);
  });

  test("fetches every file by default and takes a local folder as is", async () => {
    const dir = await resolveDataset("org/tiny", opts());
    assert.deepEqual(await readFile(join(dir, "README.md")), Buffer.from(dataFiles["README.md"]));
    assert.equal(await resolveDataset(root), root);
  });

  test("a missing dataset, or one without the files, is named as a dataset", async () => {
    await assert.rejects(
      resolveDataset("org/gated", opts()),
      /^Error: Dataset "org\/gated" was not found on .*\(HTTP 404\); check the repo id, or set HF_TOKEN if the dataset is private/,
    );
    await assert.rejects(
      resolveDataset("not a/repo id", opts()),
      /^Error: Dataset "not a\/repo id" is neither/,
    );
    const err = await resolveDataset("org/tiny", opts({ files: ["nope/*.tsv"] })).catch((e: unknown) => e);
    assert.ok(err instanceof HubFilesMissingError);
    assert.match(
      err.message,
      /^Dataset "org\/tiny" \(revision "main"\) has none of the files asked for \(nope\/\*\.tsv\)/,
    );
    assert.ok(err.available.includes("qrels/test.tsv"));
  });
});

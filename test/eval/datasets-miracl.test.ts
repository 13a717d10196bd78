// MIRACL and BEIR hub datasets, downloaded from a fake hub on 127.0.0.1 serving tiny files in the
// hub's layouts: what they load, the `miracl:` and `beir:org/name` tasks, caching, offline mode,
// and the errors for a language or split the hub does not have.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { loadBeir } from "../../src/eval/datasets/beir.ts";
import { loadMiracl } from "../../src/eval/datasets/miracl.ts";
import { loadTask } from "../../src/eval/tasks/registry.ts";
import type { ResolveOptions } from "../../src/weights/hub.ts";
import { isolateHubEnv, sha1Hex, startFakeHub, type FakeHub, type FakeRepo } from "../helpers/hub-server.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const gz = (rows: object[]) => new Uint8Array(gzipSync(rows.map((r) => JSON.stringify(r)).join("\n") + "\n"));

const hiTopics = "miracl-v1.0-hi/topics/topics.miracl-v1.0-hi-dev.tsv";
const topics: FakeRepo = {
  id: "miracl/miracl",
  type: "dataset",
  commits: [
    {
      sha: sha1Hex("topics"),
      files: {
        [hiTopics]: bytes("1\tभारत की राजधानी क्या है?\n2\tunjudged topic\n3\tगंगा कहाँ बहती है?\n"),
        "miracl-v1.0-hi/qrels/qrels.miracl-v1.0-hi-dev.tsv": bytes("1 Q0 10#0 1\n1 Q0 11#0 0\n3 Q0 11#0 1\n"),
        "miracl-v1.0-sw/topics/topics.miracl-v1.0-sw-dev.tsv": bytes("1\tswali\n"),
        "miracl-v1.0-sw/qrels/qrels.miracl-v1.0-sw-dev.tsv": bytes("1 Q0 1#0 1\n"),
        "miracl.py": bytes("# loading script"),
      },
    },
  ],
  refs: { main: sha1Hex("topics") },
};
const corpus: FakeRepo = {
  id: "miracl/miracl-corpus",
  type: "dataset",
  commits: [
    {
      sha: sha1Hex("corpus"),
      files: {
        // docs-10 sorts before docs-2 as text: the loader must order shards by number
        "miracl-corpus-v1.0-hi/docs-10.jsonl.gz": gz([{ docid: "12#0", title: "", text: "अंतिम" }]),
        "miracl-corpus-v1.0-hi/docs-2.jsonl.gz": gz([{ docid: "11#0", title: "गंगा", text: "गंगा नदी" }]),
        "miracl-corpus-v1.0-hi/docs-0.jsonl.gz": gz([
          { docid: "10#0", title: "दिल्ली", text: "दिल्ली राजधानी" },
        ]),
        "miracl-corpus-v1.0-sw/docs-0.jsonl.gz": gz([{ docid: "1#0", title: "", text: "maandishi" }]),
      },
    },
  ],
  refs: { main: sha1Hex("corpus") },
};
const beirData: FakeRepo = {
  id: "org/beir-data",
  type: "dataset",
  commits: [
    {
      sha: sha1Hex("beir"),
      files: {
        "corpus.jsonl.gz": gz([
          { _id: "d1", title: "T", text: "first" },
          { _id: "d2", text: "second" },
        ]),
        "queries.jsonl": bytes('{"_id":"q1","text":"which first"}\n'),
        "qrels/test.tsv": bytes("query-id\tcorpus-id\tscore\nq1\td1\t1\n"),
        "README.md": bytes("# not fetched"),
      },
    },
  ],
  refs: { main: sha1Hex("beir") },
};

let restoreEnv: () => void;
let hub: FakeHub;
let root: string;
let cache: string;
let n = 0;
const opts = (extra: ResolveOptions = {}): ResolveOptions => ({
  cacheDir: cache,
  endpoint: hub.url,
  timeoutMs: 5_000,
  ...extra,
});

before(async () => {
  restoreEnv = isolateHubEnv();
  root = await mkdtemp(join(tmpdir(), "xlir-miracl-"));
});
beforeEach(async () => {
  hub = await startFakeHub([topics, corpus, beirData]);
  cache = join(root, `cache-${n++}`);
});
afterEach(() => hub.close());
after(async () => {
  await rm(root, { recursive: true, force: true });
  restoreEnv();
});

describe("MIRACL from the hub", { timeout: 30_000 }, () => {
  test("loads judged topics, TREC qrels and the corpus shards in order, with the NLLB code", async () => {
    const t = await loadMiracl("hi", { hub: opts() });
    assert.deepEqual(t.queries, [
      { id: "1", text: "भारत की राजधानी क्या है?", lang: "hin_Deva" },
      { id: "3", text: "गंगा कहाँ बहती है?", lang: "hin_Deva" },
    ]);
    assert.deepEqual(
      t.qrels,
      new Map([
        [
          "1",
          new Map([
            ["10#0", 1],
            ["11#0", 0],
          ]),
        ],
        ["3", new Map([["11#0", 1]])],
      ]),
    );
    assert.deepEqual(t.corpus, [
      { id: "10#0", title: "दिल्ली", text: "दिल्ली राजधानी", lang: "hin_Deva" },
      { id: "11#0", title: "गंगा", text: "गंगा नदी", lang: "hin_Deva" },
      { id: "12#0", text: "अंतिम", lang: "hin_Deva" },
    ]);
    // only the language asked for is downloaded, into the datasets-- cache folders
    const paths = hub.requests.map((r) => r.path).filter((p) => p.includes("/resolve/"));
    assert.ok(
      paths.length > 0 &&
        paths.every((p) =>
          /\/datasets\/miracl\/miracl(-corpus)?\/resolve\/[^/]+\/miracl(-corpus)?-v1\.0-hi\//.test(p),
        ),
    );
    await stat(join(cache, "datasets--miracl--miracl", "snapshots", sha1Hex("topics"), hiTopics));
    await stat(join(cache, "datasets--miracl--miracl-corpus", "refs", "main"));
  });

  test("a second call and offline mode answer from the cache without requests", async () => {
    await assert.rejects(
      loadMiracl("hi", { hub: opts({ offline: true }) }),
      /not in the Hugging Face cache .*offline mode is on/,
    );
    const first = await loadMiracl("hi", { hub: opts() });
    const count = hub.requests.length;
    assert.deepEqual(await loadMiracl("hi", { hub: opts() }), first);
    assert.deepEqual(await loadMiracl("hi", { hub: opts({ offline: true }) }), first);
    assert.equal(hub.requests.length, count);
  });

  test("a language or split the hub lacks is named with what there is", async () => {
    await assert.rejects(
      loadMiracl("xx", { hub: opts() }),
      /^Error: MIRACL has no language "xx" in miracl\/miracl \(no miracl-v1\.0-xx\/topics\/topics\.miracl-v1\.0-xx-dev\.tsv\); languages there: hi, sw$/,
    );
    await assert.rejects(
      loadMiracl("../hi", { hub: opts() }),
      /^Error: MIRACL language "\.\.\/hi" is not a code like "hi"; use one of ar, bn/,
    );
    await assert.rejects(
      loadMiracl("hi", { split: "test-b", hub: opts() }),
      /^Error: MIRACL "hi" has no split "test-b" in miracl\/miracl \(no miracl-v1\.0-hi\/topics\/topics\.miracl-v1\.0-hi-test-b\.tsv\); splits there: dev$/,
    );
  });

  test("miracl:<lang> runs as a task with one setting per language", async () => {
    const task = await loadTask("miracl:hi", { hub: opts(), limit: 1 });
    assert.equal(task.name, "miracl:hi");
    assert.equal(task.settings.length, 1);
    const [s] = task.settings;
    assert.equal(s.id, "hi");
    assert.deepEqual(s.queries[0].ids, ["1"]);
    assert.equal(s.docs[0].lang, "hin_Deva");
    assert.deepEqual(s.docs[0].texts, ["दिल्ली दिल्ली राजधानी", "गंगा गंगा नदी", "अंतिम"]);
    await assert.rejects(loadTask("miracl:", {}), /task "miracl:" names no language/);
  });
});

describe("BEIR datasets from the hub", { timeout: 30_000 }, () => {
  test("loadBeir takes org/name: fetches the BEIR files once, then reads the cache", async () => {
    const t = await loadBeir("org/beir-data", { hub: opts() });
    assert.deepEqual(t.queries, [{ id: "q1", text: "which first" }]);
    assert.deepEqual(
      t.corpus.map((d) => d.id),
      ["d1", "d2"],
    );
    const snapshot = join(cache, "datasets--org--beir-data", "snapshots", sha1Hex("beir"));
    await assert.rejects(stat(join(snapshot, "README.md")));
    const count = hub.requests.length;
    assert.deepEqual(await loadBeir("org/beir-data", { hub: opts({ offline: true }) }), t);
    assert.equal(hub.requests.length, count);
    await assert.rejects(
      loadBeir("org/missing", { hub: opts() }),
      /^Error: org\/missing: no such folder, and as a hub dataset: Dataset "org\/missing" was not found/,
    );
  });

  test("beir:org/name is a task named by the id", async () => {
    const task = await loadTask("beir:org/beir-data", { hub: opts() });
    assert.equal(task.name, "beir:org/beir-data");
    assert.equal(task.settings[0].id, "beir-data");
    assert.equal(task.settings[0].docs[0].source, "beir-data/corpus.jsonl");
    assert.deepEqual(task.settings[0].docs[0].texts, ["T first", "second"]);
  });
});

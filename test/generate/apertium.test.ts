// Apertium end to end: Debian's APY (apertium-apy + apertium-eng-spa, installed by .ci/run) on
// 127.0.0.1, English <-> Spanish through ApertiumClient, the one-line errors, and the stop.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApertiumClient, apertiumLangCandidates } from "../../src/generate/apertium.ts";
import { startApertium, type ApertiumServer } from "../../src/generate/apertium-server.ts";

const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Live (not zombie) processes whose parent is `pid`: APY's translation pipelines. */
function liveChildren(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(ppid) === pid && state !== "Z") out.push(Number(name));
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw e;
  }
};

describe("apertium (APY from Debian's apertium-apy)", () => {
  let apy: ApertiumServer | undefined;
  let client: ApertiumClient;

  before(async () => {
    apy = await startApertium({ host: "127.0.0.1", port: 0, startTimeoutMs: 20_000 });
    client = new ApertiumClient(apy.url, { timeoutMs: 10_000 });
  });
  after(async () => {
    await apy?.stop();
  });

  it("listens on 127.0.0.1 and lists the eng-spa pairs", async () => {
    assert.match(apy!.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const pairs = await client.pairs();
    for (const [from, to] of [
      ["eng", "spa"],
      ["spa", "eng"],
    ]) {
      assert.ok(
        pairs.some((p) => p.from === from && p.to === to),
        `${from}->${to} in ${JSON.stringify(pairs)}`,
      );
    }
  });

  it("translates English to Spanish from FLORES codes, in order", async () => {
    const out = await client.translate(
      ["The house is big.", "I like the red car.", "The dog eats bread.", "", "  Where is the house?  "],
      "eng_Latn",
      "spa_Latn",
    );
    assert.equal(out.length, 5);
    assert.equal(out[0], "La casa es grande.");
    assert.match(out[1], /coche rojo/);
    assert.match(out[2], /perro/);
    assert.match(out[2], /pan/);
    assert.equal(out[3], "");
    assert.match(out[4], /^ {2}\S.*casa.*\S {2}$/);
  });

  it("translates Spanish to English from ISO 639-1 codes", async () => {
    const out = await client.translate(["La casa es grande.", "El perro come pan."], "es", "en");
    assert.equal(out[0], "The house is big.");
    assert.match(out[1], /dog/);
    assert.match(out[1], /bread/);
  });

  it("keeps many texts apart and in order, and strips Apertium's unknown-word marks", async () => {
    const texts = Array.from({ length: 12 }, (_, i) => `The house number ${i + 1} is red`);
    texts.push("The xyzzy house", "Where is the train station?");
    const out = await client.translate(texts, "eng", "spa");
    for (let i = 0; i < 12; i++) {
      assert.match(out[i], new RegExp(`casa.* ${i + 1} .*roj`), out[i]);
      assert.equal(out[i].includes("\n"), false);
    }
    assert.match(out[12], /xyzzy/);
    assert.match(out[12], /casa/);
    for (const o of out.slice(12)) assert.doesNotMatch(o, /[*#@]/, o);
  });

  it("sends long texts as a POST form", async () => {
    const long = "The house is big. ".repeat(150);
    const [out] = await client.translate([long], "eng", "spa");
    assert.equal(out.match(/La casa es grande\./g)?.length, 150);
  });

  it("names the installed pairs and the Debian package for a missing pair", async () => {
    await assert.rejects(client.translate(["hello"], "eng_Latn", "fra_Latn"), (e: Error) => {
      assert.match(e.message, /no eng_Latn->fra_Latn pair/);
      assert.match(e.message, /installed: .*eng->spa/);
      assert.match(e.message, /apertium-eng-fra/);
      assert.equal(e.message.includes("\n"), false);
      return true;
    });
  });

  it("reports HTTP errors with APY's explanation", async () => {
    const wrongPath = new ApertiumClient(`${apy!.url}/nope`, { timeoutMs: 5000 });
    await assert.rejects(wrongPath.pairs(), /answered \/listPairs with HTTP 404: 404: Not Found$/);
  });

  it("maps FLORES and ISO codes to APY's", () => {
    assert.deepEqual(apertiumLangCandidates("eng_Latn"), ["eng_Latn", "eng"]);
    assert.deepEqual(apertiumLangCandidates("es"), ["es", "spa"]);
    assert.deepEqual(apertiumLangCandidates("arb_Arab"), ["arb_Arab", "arb", "ara"]);
    // Languages NLLB-200 lacks pass through as APY's own codes.
    assert.deepEqual(apertiumLangCandidates("arg"), ["arg"]);
  });

  it("stops APY: the process and its pipelines are gone and the port is closed", async () => {
    const server = apy!;
    const pid = server.pid;
    const pipelines = liveChildren(pid);
    assert.ok(pipelines.length > 0, "APY runs its translation pipelines as child processes");
    await server.stop();
    apy = undefined;
    assert.equal(alive(pid), false);
    const deadline = Date.now() + 5000;
    for (;;) {
      const left = pipelines.filter((p) => alive(p) && !isZombie(p));
      if (left.length === 0) break;
      assert.ok(Date.now() < deadline, `pipelines still running: ${left.join(" ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await assert.rejects(new ApertiumClient(server.url, { timeoutMs: 2000 }).pairs(), /cannot reach APY/);
  });
});

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

describe("apertium errors without a server", () => {
  it("says how to start APY when nothing listens on the port", async () => {
    const probe = createServer();
    const port = await listen(probe);
    await close(probe);
    const client = new ApertiumClient(`http://127.0.0.1:${port}`, { timeoutMs: 2000 });
    await assert.rejects(client.translate(["hello"], "eng", "spa"), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`cannot reach APY at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
      );
      assert.match(e.message, /apertium-apy -p PORT \/usr\/share\/apertium\/modes/);
      assert.equal(e.message.includes("\n"), false);
      return true;
    });
  });

  it("times out on a server that never answers", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    const port = await listen(silent);
    try {
      const client = new ApertiumClient(`http://127.0.0.1:${port}`, { timeoutMs: 300 });
      const t0 = Date.now();
      await assert.rejects(client.pairs(), /did not answer \/listPairs within 300 ms/);
      assert.ok(Date.now() - t0 < 3000);
    } finally {
      for (const s of sockets) s.destroy();
      await close(silent);
    }
  });

  it("refuses to start APY without installed pairs", async () => {
    const empty = mkdtempSync(join(tmpdir(), "xlir-apertium-"));
    try {
      await assert.rejects(startApertium({ modesDir: empty }), /no Apertium pairs in .*apertium-eng-spa/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

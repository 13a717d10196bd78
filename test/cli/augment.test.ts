// `xlir augment` as a user runs it, with real machine translation: Debian's Apertium APY
// (apertium-apy + apertium-eng-spa, installed by .ci/run) on 127.0.0.1. Spanish queries go
// Spanish -> English -> (paraphrase) -> Spanish. The llm backend talks to a stand-in for an
// OpenAI-compatible chat-completions server defined below (no LLM can run here): it answers fixed
// rewordings of the English it receives, so the test sees what xlir sends and what it keeps.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startApertium, type ApertiumServer } from "../../src/generate/apertium-server.ts";
import { dropReason } from "../../src/train/augment-filters.ts";
import { readPairRecords } from "../../src/train/pairs.ts";
import { XLIR_BIN } from "../helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cli-augment-"));

const SPANISH = [
  {
    _id: "q1",
    query: "¿Cuántos habitantes tenía Madrid en 1990?",
    positive: "Madrid tenía 3 millones de habitantes en 1990.",
  },
  {
    _id: "q2",
    query: "¿Quién construyó la Torre Eiffel en París?",
    positive: { title: "Torre Eiffel", text: "Gustave Eiffel la construyó." },
  },
  {
    _id: "q3",
    query: "¿Cuál es la capital de Francia?",
    positive: "París es la capital de Francia.",
    negatives: ["Lyon es una ciudad."],
  },
  { _id: "q4", query: "¿Cuándo murió Napoleón Bonaparte?", positive: "Napoleón murió en 1821." },
].map((r) => ({ ...r, lang: "es" }));
const rows = [
  ...SPANISH,
  {
    _id: "q5",
    query: "Where was the treaty of 1648 signed?",
    positive: "It was signed in Münster in 1648.",
    lang: "en",
  },
  { _id: "q6", query: "Wo liegt Berlin?", positive: "Berlin liegt in Deutschland.", lang: "de" },
];
const data = join(root, "pairs.jsonl");
writeFileSync(data, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");

interface OutRow {
  query: string;
  positive: string;
  negatives: string[];
  lang: string;
  augmented_from?: string;
  augmented_from_id?: string;
  augmentation?: {
    pivot_en: string;
    paraphrase_en: string;
    backends: { translate: string; paraphrase: string };
  };
}
const readJsonl = (path: string): OutRow[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as OutRow);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `xlir augment ...args` as a child process (asynchronously: the stand-in server answers from this
 * process). `killWhen` is polled every 20 ms; the child is SIGKILLed once it returns true.
 */
function augment(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  killWhen?: () => boolean,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [XLIR_BIN, "augment", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const poll = killWhen && setInterval(() => killWhen() && child.kill("SIGKILL"), 20);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      resolve({ code, stdout, stderr });
    });
  });
}

// ---- the stand-in chat-completions server ---------------------------------------------------------

interface Seen {
  auth?: string;
  model: string;
  temperature: number;
  user: string;
  /** The English text the prompt asks to paraphrase. */
  text: string;
}

/** What the stand-in answers for an English text: a rewording, one without its numbers, one far too long. */
function standInParaphrases(text: string): string[] {
  const bare = text.replace(/[?.!]+$/, "");
  return [
    `I would like to know: ${bare}?`,
    bare.replace(/\s*\d+\s*/g, " ").trim() + "?",
    `${bare} and everything about its history, geography, economy, culture and people through the centuries?`,
  ];
}

class StandInLlm {
  server: Server;
  seen: Seen[] = [];
  private answerLimit = Infinity;
  private answered = 0;
  url = "";

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** Answers `n` more requests, then none (a run to be killed); Infinity to answer all. */
  answer(n: number): void {
    this.answerLimit = n;
    this.answered = 0;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    const r = JSON.parse(body) as {
      model: string;
      temperature: number;
      messages: { role: string; content: string }[];
    };
    const user = r.messages.find((m) => m.role === "user")!.content;
    const text = /Query: (.*)$/s.exec(user)![1].trim();
    this.seen.push({
      auth: req.headers.authorization,
      model: r.model,
      temperature: r.temperature,
      user,
      text,
    });
    if (this.answered >= this.answerLimit) return; // never answers: the client waits until it is killed
    this.answered++;
    const variants = standInParaphrases(text);
    // JSON in a code fence for most, numbered lines for one: both answers models give
    const content = /Napoleon/.test(text)
      ? variants.map((v, i) => `${i + 1}. ${v}`).join("\n")
      : "```json\n" + JSON.stringify(variants) + "\n```";
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        id: "stand-in",
        object: "chat.completion",
        model: r.model,
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      }),
    );
  }
}

// ---- tests ------------------------------------------------------------------------------------------

describe("xlir augment (Apertium APY on 127.0.0.1)", () => {
  let apy: ApertiumServer | undefined;
  const llm = new StandInLlm();
  before(async () => {
    apy = await startApertium({ host: "127.0.0.1", port: 0, startTimeoutMs: 20_000 });
    await llm.start();
  });
  after(async () => {
    await apy?.stop();
    await llm.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const llmArgs = () => [
    "--paraphrase",
    "llm",
    "--llm-url",
    llm.url,
    "--llm-model",
    "stand-in-1",
    "--llm-key-env",
    "XLIR_TEST_LLM_KEY",
  ];
  const llmEnv = { XLIR_TEST_LLM_KEY: "test-key" };

  it("pivot: Spanish -> English -> Spanish -> English -> Spanish, with provenance and the filters", async () => {
    const out = join(root, "pivot.jsonl");
    const r = await augment([
      "--data",
      data,
      "--out",
      out,
      "--langs",
      "es,en",
      "--translate",
      "apertium",
      "--apertium-url",
      apy!.url,
      "--paraphrase",
      "pivot",
      "--pivot-lang",
      "spa",
      "--include-original",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as {
      queries: number;
      skippedRows: number;
      variants: number;
      kept: number;
      rows: number;
      originals: number;
      dropped: Record<string, number>;
      complete: boolean;
    };
    assert.equal(summary.complete, true);
    assert.equal(summary.queries, 5); // four Spanish, one English
    assert.equal(summary.skippedRows, 1); // the German row
    assert.equal(summary.variants, 5); // one pivot language: one variant each
    assert.equal(summary.originals, rows.length);
    assert.equal(summary.kept + Object.values(summary.dropped).reduce((a, b) => a + b, 0), summary.variants);
    assert.ok(summary.kept >= 1 && summary.dropped.duplicate >= 1, JSON.stringify(summary)); // Apertium often round-trips a query unchanged
    assert.match(r.stderr, /kept \d+, dropped \d+/);
    assert.ok(!existsSync(`${out}.partial`));

    assert.equal(readPairRecords([out]).length, rows.length + summary.rows); // what xlir train reads
    const written = readJsonl(out);
    const augmented = written.filter((w) => w.augmented_from !== undefined);
    assert.equal(written.length - augmented.length, rows.length);
    assert.equal(augmented.length, summary.rows);
    assert.equal(augmented.length, summary.kept); // one row per query here
    // each original row comes first, then its variants
    assert.deepEqual(
      written.map((w) => w.augmented_from ?? w.query),
      rows.flatMap((o) => [
        o.query,
        ...augmented.filter((a) => a.augmented_from === o.query).map(() => o.query),
      ]),
    );
    for (const a of augmented) {
      const orig = rows.find((o) => o.query === a.augmented_from)!;
      assert.equal(a.augmented_from_id, orig._id);
      assert.equal(a.lang, orig.lang === "es" ? "spa_Latn" : "eng_Latn");
      assert.equal(dropReason(orig.query, a.query), null, `${a.query} passes the filters`);
      assert.deepEqual(a.augmentation!.backends, { translate: "apertium", paraphrase: "pivot:spa_Latn" });
      if (orig.lang === "en")
        assert.equal(a.augmentation!.pivot_en, orig.query); // English: no translation
      else assert.match(a.augmentation!.pivot_en, /^[\x20-\x7e]+$/); // Apertium's English
      assert.deepEqual(a.negatives, "negatives" in orig ? orig.negatives : []);
    }
    const madrid = augmented.find((a) => a.augmented_from === SPANISH[0].query);
    assert.ok(madrid, "the Madrid query gets a variant");
    assert.match(madrid.query, /1990/);
    assert.equal(madrid.positive, SPANISH[0].positive);
    const eiffel = augmented.find((a) => a.augmented_from === SPANISH[1].query);
    if (eiffel) assert.equal(eiffel.positive, "Torre Eiffel Gustave Eiffel la construyó.");
  });

  it("llm: the prompt carries the English query; parsed variants are filtered (stand-in server)", async () => {
    const out = join(root, "llm.jsonl");
    llm.seen = [];
    const r = await augment(
      [
        "--data",
        data,
        "--out",
        out,
        "--langs",
        "es",
        "--translate",
        "apertium",
        "--apertium-url",
        apy!.url,
        ...llmArgs(),
        "--variants",
        "3",
        "--temperature",
        "0.7",
        "--json",
      ],
      llmEnv,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(llm.seen.length, SPANISH.length); // one request per query
    for (const s of llm.seen) {
      assert.equal(s.auth, "Bearer test-key");
      assert.equal(s.model, "stand-in-1");
      assert.equal(s.temperature, 0.7);
      assert.match(s.user, /paraphrases/);
      assert.match(s.user, /synonyms/);
      assert.match(s.user, /name, number/);
    }
    const summary = JSON.parse(r.stdout) as {
      variants: number;
      kept: number;
      dropped: Record<string, number>;
    };
    assert.equal(summary.variants, 3 * SPANISH.length);
    assert.ok(summary.dropped.number >= 1, JSON.stringify(summary)); // Madrid without 1990
    assert.ok(summary.dropped.length >= SPANISH.length - 1, JSON.stringify(summary)); // the run-away ones
    const augmented = readJsonl(out);
    assert.equal(augmented.length, summary.kept);
    assert.ok(augmented.length >= SPANISH.length, "the reworded variant of most queries is kept");
    const napoleon = augmented.filter((a) => a.augmented_from === SPANISH[3].query);
    assert.ok(napoleon.length >= 1, "numbered lines are read too");
    for (const a of augmented) {
      const { pivot_en, paraphrase_en, backends } = a.augmentation!;
      assert.ok(
        llm.seen.some((s) => s.text === pivot_en),
        `${pivot_en} was sent`,
      );
      assert.ok(
        standInParaphrases(pivot_en).includes(paraphrase_en),
        `${paraphrase_en} came from the answer`,
      );
      assert.deepEqual(backends, { translate: "apertium", paraphrase: "llm:stand-in-1" });
      assert.equal(dropReason(a.augmented_from!, a.query), null);
      assert.equal(a.lang, "spa_Latn");
    }
  });

  it("continues after a SIGKILL without redoing or duplicating finished queries", async () => {
    const out = join(root, "resume.jsonl");
    const partial = `${out}.partial`;
    const args = [
      "--data",
      data,
      "--out",
      out,
      "--langs",
      "es",
      "--translate",
      "apertium",
      "--apertium-url",
      apy!.url,
      ...llmArgs(),
      "--batch",
      "1",
      "--llm-concurrency",
      "1",
      "--json",
    ];
    const journalLines = () =>
      existsSync(partial) ? readFileSync(partial, "utf8").split("\n").length - 1 : 0;

    llm.seen = [];
    llm.answer(2); // then it hangs: the third query is in flight when the kill comes
    const killed = await augment(args, llmEnv, () => journalLines() >= 3);
    assert.equal(killed.code, null, killed.stderr);
    assert.ok(!existsSync(out));
    const journal = readFileSync(partial, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { query?: string });
    const finished = journal.slice(1).map((j) => j.query!);
    assert.equal(finished.length, 2);
    const firstRun = llm.seen.map((s) => s.text);

    llm.seen = [];
    llm.answer(Infinity);
    const resumed = await augment(args, llmEnv);
    assert.equal(resumed.code, 0, resumed.stderr);
    const summary = JSON.parse(resumed.stdout) as { queries: number; resumed: number; kept: number };
    assert.equal(summary.queries, SPANISH.length);
    assert.equal(summary.resumed, 2);
    // nothing finished is asked again: only the two queries not in the journal
    assert.equal(llm.seen.length, 2);
    for (const s of llm.seen) assert.ok(!firstRun.slice(0, 2).includes(s.text), `${s.text} asked again`);
    assert.ok(!existsSync(partial));

    const augmented = readJsonl(out);
    assert.equal(augmented.length, summary.kept);
    const pairs = augmented.map((a) => `${a.augmented_from}\t${a.query}`);
    assert.equal(new Set(pairs).size, pairs.length, "no duplicate rows");
    for (const q of finished)
      assert.ok(
        augmented.some((a) => a.augmented_from === q),
        `${q} kept its variants`,
      );
    assert.deepEqual(new Set(augmented.map((a) => a.augmented_from)).size, SPANISH.length);
  });

  it("says what is missing in one line", async () => {
    const base = ["--data", data, "--out", join(root, "err.jsonl"), "--langs", "es"];
    const noModel = await augment([...base, "--translate", "apertium", "--paraphrase", "llm"]);
    assert.equal(noModel.code, 1);
    assert.equal(
      noModel.stderr.trim(),
      "xlir: --paraphrase llm needs --llm-model NAME (the model the endpoint serves)",
    );
    const noLang = await augment([
      ...base,
      "--langs",
      "fr",
      "--translate",
      "apertium",
      "--apertium-url",
      apy!.url,
      "--paraphrase",
      "none",
    ]);
    assert.equal(noLang.code, 1);
    assert.match(noLang.stderr.trim(), /^xlir: no query in fra_Latn among the 6 rows .*: check --langs$/);
  });
});

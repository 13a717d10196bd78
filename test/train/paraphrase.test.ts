// The llm paraphraser's reading of model answers, and its bounded retries, against a stand-in for
// an OpenAI-compatible chat-completions server on 127.0.0.1 (no LLM can run here).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { LlmParaphraser, parseParaphrases } from "../../src/train/paraphrase.ts";

describe("llm paraphraser", () => {
  it("reads a JSON array (bare, fenced, in an object) or numbered and bulleted lines", () => {
    assert.deepEqual(parseParaphrases('["a b", "c d", "a b"]'), ["a b", "c d"]);
    assert.deepEqual(parseParaphrases('Sure!\n```json\n["x y", " z "]\n```'), ["x y", "z"]);
    assert.deepEqual(parseParaphrases('{"paraphrases": [{"text": "p q"}, "r s"]}'), ["p q", "r s"]);
    assert.deepEqual(parseParaphrases('Here:\n1. "First one"\n2) Second one\n- Third one\nThanks'), [
      "First one",
      "Second one",
      "Third one",
    ]);
    assert.deepEqual(parseParaphrases("I cannot help with that."), []);
  });

  // answers by the order requests arrive: 503, then an unreadable answer, then a list
  const script: { status: number; content?: string }[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests++;
      const step = script.shift() ?? { status: 200, content: '["one way", "another way"]' };
      if (step.status !== 200) {
        res.writeHead(step.status, { "retry-after": "0" }).end('{"error":{"message":"busy"}}');
        return;
      }
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ choices: [{ message: { role: "assistant", content: step.content } }] }));
    });
  });
  let url = "";
  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("retries HTTP 5xx and unreadable answers, within the bound", async () => {
    const p = new LlmParaphraser({ url, model: "m", retries: 2, retryDelayMs: 5 });
    script.push({ status: 503 }, { status: 200, content: "no list here" });
    requests = 0;
    assert.deepEqual(await p.paraphrase(["some query"], 2), [["one way", "another way"]]);
    assert.equal(requests, 3);

    script.push({ status: 503 }, { status: 503 }, { status: 503 });
    requests = 0;
    await assert.rejects(p.paraphrase(["q"], 2), /^Error: llm: .*HTTP 503.*\(after 3 tries\)/);
    assert.equal(requests, 3);
  });

  it("stops at once on a refused key, with the fix in one line", async () => {
    const p = new LlmParaphraser({ url, model: "m", retries: 3, retryDelayMs: 5 });
    script.push({ status: 401 });
    requests = 0;
    await assert.rejects(
      p.paraphrase(["q"], 2),
      /HTTP 401.*OPENAI_API_KEY or name its variable with --llm-key-env/,
    );
    assert.equal(requests, 1);
  });
});

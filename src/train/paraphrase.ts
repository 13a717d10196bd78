// English paraphrasers for query augmentation (`xlir augment`, src/train/augment.ts):
//   - llm:   any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp's server,
//            Ollama's /v1, ...), asked for n rewordings that keep names, numbers and domain terms;
//   - pivot: a round trip English -> another language -> English through the translator, one
//            variant per pivot language (works offline, with no LLM);
//   - none:  the English as it is (the variant is then the plain round trip through English).

import { mapLimit } from "../generate/map-limit.ts";
import type { Translator } from "../generate/translator.ts";

export interface Paraphraser {
  /** Recorded in each variant's provenance: "llm:MODEL", "pivot:spa_Latn", "none". */
  readonly name: string;
  /** Up to `n` paraphrases of each English text, in the order of `texts`. */
  paraphrase(texts: readonly string[], n: number): Promise<string[][]>;
}

export class NoParaphraser implements Paraphraser {
  readonly name = "none";
  async paraphrase(texts: readonly string[]): Promise<string[][]> {
    return texts.map((t) => [t]);
  }
}

export class PivotParaphraser implements Paraphraser {
  readonly name: string;
  constructor(
    private readonly translator: Translator,
    /** NLLB-200 codes, not English; variant i goes through pivots[i]. */
    private readonly pivots: readonly string[],
  ) {
    if (pivots.length === 0) throw new Error("pivot paraphrasing needs a pivot language: give --pivot-lang");
    this.name = `pivot:${pivots.join(",")}`;
  }

  async paraphrase(texts: readonly string[], n: number): Promise<string[][]> {
    const out = texts.map(() => [] as string[]);
    for (const pivot of this.pivots.slice(0, Math.max(1, n))) {
      const there = await this.translator.translate(texts, "eng_Latn", pivot);
      const back = await this.translator.translate(there, pivot, "eng_Latn");
      back.forEach((b, i) => out[i].push(b));
    }
    return out;
  }
}

export interface LlmOptions {
  /** Base URL of the API (".../v1"); a URL ending in /chat/completions is used as it is. */
  url: string;
  model: string;
  /** Sent as a bearer token when given. */
  apiKey?: string;
  /** Default 0.8: varied wording without drifting off the query. */
  temperature?: number;
  /** Per request. Default 60000. */
  timeoutMs?: number;
  /** Further tries after a timeout, a network error, HTTP 429 or 5xx, or an unreadable answer. Default 3. */
  retries?: number;
  /** First wait before a retry, doubled each time (Retry-After wins, up to 30 s). Default 1000. */
  retryDelayMs?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
}

export const DEFAULT_LLM_URL = "https://api.openai.com/v1";

const SYSTEM_PROMPT =
  "You rewrite search queries for training a retrieval model. Answer with a JSON array of strings and nothing else.";

/** The user message asking for `n` paraphrases of `text`. */
export function paraphrasePrompt(text: string, n: number): string {
  return (
    `Write ${n} different paraphrases of the search query below. Each must ask for exactly the same ` +
    `information in other words: substitute synonyms and change the sentence structure (for example ` +
    `question to statement, active to passive, reordered clauses). Keep every name, number, date and ` +
    `domain term exactly as written. Answer with a JSON array of ${n} strings.\n\nQuery: ${text}`
  );
}

/**
 * The paraphrases in a model's answer: a JSON array (of strings, or of objects with a text field),
 * possibly inside a code fence or an object, else numbered or bulleted lines. Distinct, trimmed,
 * quotes removed; [] when the answer holds neither.
 */
export function parseParaphrases(answer: string): string[] {
  const fromJson = jsonList(answer);
  const items = fromJson ?? listLines(answer);
  const out: string[] = [];
  for (const item of items) {
    const s = unquote(item.trim());
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

function jsonList(answer: string): string[] | undefined {
  const start = answer.search(/[[{]/);
  if (start < 0) return undefined;
  const end = Math.max(answer.lastIndexOf("]"), answer.lastIndexOf("}"));
  let value: unknown;
  try {
    value = JSON.parse(answer.slice(start, end + 1));
  } catch {
    return undefined;
  }
  // {"paraphrases": [...]} and the like: the first list in the object.
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    value = Object.values(value).find(Array.isArray);
  if (!Array.isArray(value)) return undefined;
  const texts = value
    .map((v) => {
      if (typeof v === "string") return v;
      if (v !== null && typeof v === "object") {
        const field = Object.values(v as Record<string, unknown>).find((x) => typeof x === "string");
        return field as string | undefined;
      }
      return undefined;
    })
    .filter((v): v is string => v !== undefined);
  return texts.length ? texts : undefined;
}

function listLines(answer: string): string[] {
  const out: string[] = [];
  for (const line of answer.split(/\r?\n/)) {
    const m = /^\s*(?:\d+\s*[.):-]|[-*•])\s+(.+)$/u.exec(line);
    if (m) out.push(m[1].replace(/\*\*/g, ""));
  }
  return out;
}

function unquote(s: string): string {
  const m = /^["'“”«»„](.*)["'“”«»]$/su.exec(s);
  return m ? m[1].trim() : s;
}

class Retryable extends Error {
  constructor(
    message: string,
    readonly waitMs?: number,
  ) {
    super(message);
  }
}

export class LlmParaphraser implements Paraphraser {
  readonly name: string;
  readonly endpoint: string;
  private readonly o: Required<Omit<LlmOptions, "apiKey">> & { apiKey?: string };

  constructor(opts: LlmOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new Error(
        `--llm-url ${JSON.stringify(opts.url)} is not a URL: give the API's base URL, e.g. ${DEFAULT_LLM_URL}`,
      );
    }
    const base = url.href.replace(/\/+$/, "");
    this.endpoint = /\/chat\/completions$/.test(base) ? base : `${base}/chat/completions`;
    if (!opts.model?.trim())
      throw new Error("--paraphrase llm needs --llm-model NAME (the model the endpoint serves)");
    this.o = {
      temperature: 0.8,
      timeoutMs: 60_000,
      retries: 3,
      retryDelayMs: 1000,
      concurrency: 4,
      ...opts,
    };
    this.name = `llm:${opts.model}`;
  }

  async paraphrase(texts: readonly string[], n: number): Promise<string[][]> {
    return mapLimit(texts, this.o.concurrency, (t) => this.one(t, n));
  }

  /** Up to n paraphrases of one text; [] when every try's answer was unreadable. */
  private async one(text: string, n: number): Promise<string[]> {
    let last = "";
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      try {
        const found = parseParaphrases(await this.ask(text, n));
        if (found.length) return found.slice(0, n);
        last = "an answer with no JSON array or numbered lines";
        if (attempt === this.o.retries) return [];
      } catch (e) {
        if (!(e instanceof Retryable)) throw e;
        last = e.message;
        if (attempt === this.o.retries)
          throw new Error(`llm: ${last} (after ${this.o.retries + 1} tries): check --llm-url and retry`, {
            cause: e,
          });
        await sleep(e.waitMs ?? this.o.retryDelayMs * 2 ** attempt);
        continue;
      }
      await sleep(this.o.retryDelayMs * 2 ** attempt);
    }
    throw new Error(`llm: ${last}`);
  }

  private async ask(text: string, n: number): Promise<string> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    const body = JSON.stringify({
      model: this.o.model,
      temperature: this.o.temperature,
      messages: [
        { role: "system", content: SYSTEM_PROMPT },
        { role: "user", content: paraphrasePrompt(text, n) },
      ],
    });
    let res: Response;
    let raw: string;
    try {
      res = await fetch(this.endpoint, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      raw = await res.text();
    } catch (e) {
      const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      if (err?.name === "TimeoutError" || err?.name === "AbortError")
        throw new Retryable(`${this.endpoint} did not answer within ${this.o.timeoutMs} ms`);
      throw new Retryable(
        `cannot reach ${this.endpoint} (${err?.cause?.code ?? err?.cause?.message ?? err?.message})`,
      );
    }
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get("retry-after"));
      const waitMs = Number.isFinite(after) && after > 0 ? Math.min(after, 30) * 1000 : undefined;
      throw new Retryable(`${this.endpoint} answered HTTP ${res.status}: ${snippet(raw)}`, waitMs);
    }
    if (res.status === 401 || res.status === 403)
      throw new Error(
        `llm: ${this.endpoint} refused the request (HTTP ${res.status}: ${snippet(raw)}): set the key in ` +
          `OPENAI_API_KEY or name its variable with --llm-key-env`,
      );
    if (!res.ok)
      throw new Error(
        `llm: ${this.endpoint} answered HTTP ${res.status} (${snippet(raw)}): check --llm-url (the base URL, ` +
          `e.g. ${DEFAULT_LLM_URL}) and --llm-model`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Retryable(`${this.endpoint} answered something that is not JSON: ${snippet(raw)}`);
    }
    const content = (parsed as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message
      ?.content;
    if (typeof content !== "string")
      throw new Retryable(`${this.endpoint} answered without choices[0].message.content: ${snippet(raw)}`);
    return content;
  }
}

function snippet(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 160);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

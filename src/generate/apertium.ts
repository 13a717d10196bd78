// Rule-based translation through Apertium's APY HTTP server (Debian: apertium-apy plus pair
// packages such as apertium-eng-spa). APY answers
//   GET|POST /listPairs                    -> { responseData: [{ sourceLanguage, targetLanguage }] }
//   GET|POST /translate?langpair=eng|spa&q= -> { responseData: { translatedText } }
// and errors as { status: "error", code, message, explanation }.
import { mapLimit } from "./map-limit.ts";
import type { Translator } from "./translator.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";

export const DEFAULT_APERTIUM_URL = "http://127.0.0.1:2737";

export interface ApertiumClientOptions {
  /** Per HTTP request; a translation request is one text. Default 30000. */
  timeoutMs?: number;
  /** Texts in flight at once. Default 4. */
  concurrency?: number;
}

export interface ApertiumPair {
  /** APY's codes: ISO 639-3, sometimes with a variant ("eng_US", "cat_valencia"). */
  from: string;
  to: string;
}

// APY names languages by ISO 639-3, and for some macrolanguages by the macrolanguage's code
// where NLLB-200 names the member it covers (arb vs ara); some pairs use a member NLLB lacks.
// prettier-ignore
const APERTIUM_ALIASES: Readonly<Record<string, readonly string[]>> = {
  arb: ["ara"], pes: ["fas"], swh: ["swa"], zsm: ["msa", "zlm"], als: ["sqi"], lvs: ["lav"],
  khk: ["mon"], npi: ["nep"], azj: ["aze"], uzn: ["uzb"], gaz: ["orm"], plt: ["mlg"], pbt: ["pus"],
  quy: ["que"], ydd: ["yid"], kmr: ["kur"], knc: ["kau"], fuv: ["ful"], ayr: ["aym"], nob: ["nor"],
  srp: ["hbs"], hrv: ["hbs"], bos: ["hbs"],
};

/** The APY language codes `code` may stand for, most specific first. */
export function apertiumLangCandidates(code: string): string[] {
  const raw = code.trim();
  const out = [raw];
  let nllb: string | undefined;
  try {
    nllb = resolveNllbLang(raw).slice(0, 3);
  } catch {
    // Apertium covers languages NLLB-200 does not (arg, frp, szl, ...): APY's code is then as given.
  }
  if (nllb !== undefined) out.push(nllb, ...(APERTIUM_ALIASES[nllb] ?? []));
  return [...new Set(out)];
}

export class ApertiumHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly explanation: string,
  ) {
    super(message);
  }
}

const MARKS = [
  { char: "#", before: /#(?=[\p{L}\p{N}])/gu },
  { char: "@", before: /@(?=[\p{L}\p{N}])/gu },
];

// Above this the text goes in a form body: URLs that long are refused by some proxies.
const MAX_GET_QUERY = 2000;

export class ApertiumClient implements Translator {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly name = "apertium";
  private pairsCache?: Promise<ApertiumPair[]>;

  constructor(baseUrl: string = DEFAULT_APERTIUM_URL, opts: ApertiumClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new Error(
        `apertium: ${JSON.stringify(baseUrl)} is not a URL: give APY's, e.g. ${DEFAULT_APERTIUM_URL}`,
      );
    }
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  }

  /** The installed translation directions, fetched once per client. */
  pairs(): Promise<ApertiumPair[]> {
    this.pairsCache ??= this.fetchPairs().catch((e) => {
      this.pairsCache = undefined;
      throw e;
    });
    return this.pairsCache;
  }

  /** The installed APY pair for two codes in any spelling xlir accepts (eng_Latn, en, eng). */
  async resolvePair(from: string, to: string): Promise<ApertiumPair> {
    const pair = pick(await this.pairs(), from, to);
    if (pair) return pair;
    // APY may have been restarted with more pairs since the list was cached.
    this.pairsCache = undefined;
    const fresh = await this.pairs();
    const again = pick(fresh, from, to);
    if (again) return again;
    const f = apertiumLangCandidates(from)[1] ?? from;
    const t = apertiumLangCandidates(to)[1] ?? to;
    const installed = fresh.length ? fresh.map((p) => `${p.from}->${p.to}`).join(", ") : "none";
    throw new Error(
      `apertium: APY at ${this.baseUrl} has no ${from}->${to} pair (installed: ${installed}): ` +
        `install Debian's apertium-${f}-${t} or apertium-${t}-${f} (apt-cache search apertium-) and restart APY`,
    );
  }

  /** Translates each text; the answer is in the order of `texts`. */
  async translate(texts: readonly string[], from: string, to: string): Promise<string[]> {
    if (texts.length === 0) return [];
    const pair = await this.resolvePair(from, to);
    // One request per text: APY's transfer rules reorder words across newlines, so joined texts
    // would bleed into each other. Several in flight keep APY's pipeline busy.
    return mapLimit(texts, this.concurrency, (t) => this.translateOne(t, pair));
  }

  private async translateOne(text: string, pair: ApertiumPair): Promise<string> {
    if (typeof text !== "string") throw new Error(`apertium: texts must be strings, got ${typeof text}`);
    if (text.trim() === "") return text;
    const params = new URLSearchParams({
      langpair: `${pair.from}|${pair.to}`,
      q: text,
      // APY marks unknown words "*word" by default, which would leak into augmented queries.
      markUnknown: "no",
      // Queries are plain text: the default HTML deformatter would eat "<" and "&" sequences.
      format: "txt",
    });
    const body = await this.request("/translate", params);
    const translated = (body as { responseData?: { translatedText?: unknown } })?.responseData
      ?.translatedText;
    if (typeof translated !== "string") {
      throw new Error(
        `apertium: APY at ${this.baseUrl} answered /translate without responseData.translatedText`,
      );
    }
    // markUnknown=no drops only "*"; "#" (no inflection for the target word) and "@" (missing from
    // the bilingual dictionary) stay. Where the input has no such character, they are marks.
    let clean = translated;
    for (const mark of MARKS) if (!text.includes(mark.char)) clean = clean.replace(mark.before, "");
    // Apertium's blank handling adds or drops spaces at the ends; keep the input's own.
    const lead = /^\s*/.exec(text)![0];
    const trail = /\s*$/.exec(text)![0];
    return lead + clean.trim() + trail;
  }

  private async fetchPairs(): Promise<ApertiumPair[]> {
    const body = await this.request("/listPairs", new URLSearchParams());
    const data = (body as { responseData?: unknown })?.responseData;
    if (!Array.isArray(data)) {
      throw new Error(
        `apertium: ${this.baseUrl}/listPairs did not answer as APY does (no responseData list)`,
      );
    }
    return data
      .filter((p) => typeof p?.sourceLanguage === "string" && typeof p?.targetLanguage === "string")
      .map((p) => ({ from: p.sourceLanguage as string, to: p.targetLanguage as string }));
  }

  private async request(path: string, params: URLSearchParams): Promise<unknown> {
    const query = params.toString();
    const url = `${this.baseUrl}${path}`;
    const init: RequestInit = { signal: AbortSignal.timeout(this.timeoutMs) };
    let target = query ? `${url}?${query}` : url;
    if (query.length > MAX_GET_QUERY) {
      target = url;
      init.method = "POST";
      init.body = params;
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(target, init);
      text = await res.text();
    } catch (e) {
      throw new Error(this.networkMessage(path, e), { cause: e });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      // Tornado answers unknown paths with an HTML page: keep its words only.
      const explanation = String((body as { explanation?: unknown })?.explanation ?? text)
        .replace(/<title>.*?<\/title>|<[^>]*>/gs, " ")
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, 200);
      throw new ApertiumHttpError(
        `apertium: APY at ${this.baseUrl} answered ${path} with HTTP ${res.status}: ${explanation || res.statusText}`,
        res.status,
        explanation,
      );
    }
    if (body === undefined) {
      throw new Error(
        `apertium: ${url} did not answer JSON (is ${this.baseUrl} an APY server?): ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
    return body;
  }

  private networkMessage(path: string, e: unknown): string {
    const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (err?.name === "TimeoutError" || err?.name === "AbortError") {
      return `apertium: APY at ${this.baseUrl} did not answer ${path} within ${this.timeoutMs} ms`;
    }
    const why = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
    return (
      `apertium: cannot reach APY at ${this.baseUrl} (${why}): start it with ` +
      `"apertium-apy -p PORT /usr/share/apertium/modes" (Debian packages apertium-apy and a pair such as ` +
      `apertium-eng-spa) or give the URL of a running APY`
    );
  }
}

function pick(pairs: readonly ApertiumPair[], from: string, to: string): ApertiumPair | undefined {
  for (const f of apertiumLangCandidates(from)) {
    for (const t of apertiumLangCandidates(to)) {
      const hit = pairs.find((p) => p.from === f && p.to === t);
      if (hit) return hit;
    }
  }
  return undefined;
}

// LangChain.js on an `xlir serve` server. Copy this file; it needs @langchain/core and
// @langchain/openai, nothing from xlir.
//
// 1. Embeddings. xlir speaks OpenAI's POST /v1/embeddings, so LangChain's OpenAIEmbeddings works as
//    it is with baseURL `${url}/v1` (apiKey: the server's --api-key, or any non-empty string when it
//    has none). The role (E5's "query: " / "passage: " prefix) comes from a ":query" / ":passage"
//    suffix on the model name; XlirEmbeddings embeds documents as passages and queries as queries,
//    so it can go wherever LangChain takes an Embeddings (vector stores, ...):
//      const embeddings = new XlirEmbeddings({ url: "http://localhost:8080", model: "e5" });
//      await embeddings.embedDocuments(["..."]); await embeddings.embedQuery("...");
// 2. Retriever. XlirRetriever searches an xlir collection on the server (dense, bm25 or hybrid):
//      const retriever = new XlirRetriever({ url, collection: "docs", k: 5, mode: "hybrid",
//        filter: { lang: ["de", "fr"] } });
//      const docs = await retriever.invoke("volcano eruptions in Europe");
//    Each Document is the best passage of a hit; metadata: the document's metadata, id, lang, score
//    and title. A server error (unknown collection, bad filter, wrong key) is thrown with its message.
import { Embeddings } from "@langchain/core/embeddings";
import { Document } from "@langchain/core/documents";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import { OpenAIEmbeddings } from "@langchain/openai";

export interface XlirEmbeddingsOptions {
  /** The server, e.g. http://localhost:8080. */
  url: string;
  /** A model the server serves (`xlir serve --model NAME=PATH`). */
  model: string;
  apiKey?: string;
  /** Texts per request (LangChain's default: 512). */
  batchSize?: number;
}

export class XlirEmbeddings extends Embeddings {
  private readonly passages: OpenAIEmbeddings;
  private readonly queries: OpenAIEmbeddings;

  constructor(o: XlirEmbeddingsOptions) {
    super({});
    const common = {
      apiKey: o.apiKey ?? "none",
      batchSize: o.batchSize,
      configuration: { baseURL: `${o.url}/v1` },
    };
    this.passages = new OpenAIEmbeddings({ ...common, model: `${o.model}:passage` });
    this.queries = new OpenAIEmbeddings({ ...common, model: `${o.model}:query` });
  }

  embedDocuments(texts: string[]): Promise<number[][]> {
    return this.passages.embedDocuments(texts);
  }

  embedQuery(text: string): Promise<number[]> {
    return this.queries.embedQuery(text);
  }
}

export interface XlirRetrieverOptions extends BaseRetrieverInput {
  url: string;
  collection: string;
  /** Documents to return (server default 10). */
  k?: number;
  /** Server default: dense for dense collections, bm25 for lexical ones. */
  mode?: "dense" | "bm25" | "hybrid";
  /** {"lang": ["de", "fr"], "topic": "science"} or ["lang=de,fr", "topic!=sport"]. */
  filter?: Record<string, unknown> | string[];
  /** The query's language: a code, or "auto" (the server's default). */
  lang?: string;
  apiKey?: string;
}

interface Hit {
  id: string;
  score: number;
  lang: string;
  title: string | null;
  text: string;
  metadata: Record<string, unknown>;
}

export class XlirRetriever extends BaseRetriever {
  lc_namespace = ["xlir", "retrievers"];

  constructor(private readonly o: XlirRetrieverOptions) {
    super(o);
  }

  override async _getRelevantDocuments(query: string): Promise<Document[]> {
    const { url, collection, k, mode, filter, lang, apiKey } = this.o;
    const res = await fetch(`${url}/collections/${encodeURIComponent(collection)}/search`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      },
      body: JSON.stringify({ query, k, mode, filter, lang }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`xlir search: ${body?.error?.message ?? `HTTP ${res.status}`}`);
    return (body.hits as Hit[]).map(
      (h) =>
        new Document({
          id: h.id,
          pageContent: h.text,
          metadata: { ...h.metadata, id: h.id, lang: h.lang, score: h.score, title: h.title },
        }),
    );
  }
}

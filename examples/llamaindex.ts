// LlamaIndex.TS on an `xlir serve` server. Copy this file; it needs @llamaindex/core and
// @llamaindex/openai, nothing from xlir.
//
// 1. Embeddings. xlir speaks OpenAI's POST /v1/embeddings, so LlamaIndex's OpenAIEmbedding works as
//    it is with baseURL `${url}/v1` (apiKey: the server's --api-key, or any non-empty string when it
//    has none; any model name is accepted, and `dimensions` is only sent when you set it). The role
//    (E5's "query: " / "passage: " prefix) comes from a ":query" / ":passage" suffix on the model
//    name; XlirEmbedding embeds texts as passages and queries as queries, so it can be Settings.embedModel:
//      Settings.embedModel = new XlirEmbedding({ url: "http://localhost:8080", model: "e5" });
// 2. Retriever. XlirRetriever searches an xlir collection on the server (dense, bm25 or hybrid):
//      const retriever = new XlirRetriever({ url, collection: "docs", k: 5, mode: "hybrid",
//        filter: { lang: ["de", "fr"] } });
//      const nodes = await retriever.retrieve("volcano eruptions in Europe");
//    Each NodeWithScore holds a TextNode (id_: the document id, text: its best passage, metadata:
//    the document's metadata, lang and title) and the server's score. A server error (unknown
//    collection, bad filter, wrong key) is thrown with its message.
import type { MessageContentDetail } from "@llamaindex/core/llms";
import type { QueryBundle } from "@llamaindex/core/query-engine";
import { BaseRetriever } from "@llamaindex/core/retriever";
import { type NodeWithScore, TextNode } from "@llamaindex/core/schema";
import { extractText } from "@llamaindex/core/utils";
import { OpenAIEmbedding } from "@llamaindex/openai";

export interface XlirEmbeddingOptions {
  /** The server, e.g. http://localhost:8080. */
  url: string;
  /** A model the server serves (`xlir serve --model NAME=PATH`). */
  model: string;
  apiKey?: string;
  /** Texts per request (LlamaIndex's default: 10; the server batches requests together anyway). */
  embedBatchSize?: number;
}

export class XlirEmbedding extends OpenAIEmbedding {
  private readonly queries: OpenAIEmbedding;

  constructor(o: XlirEmbeddingOptions) {
    const common = { apiKey: o.apiKey ?? "none", baseURL: `${o.url}/v1`, embedBatchSize: o.embedBatchSize };
    super({ ...common, model: `${o.model}:passage` });
    this.queries = new OpenAIEmbedding({ ...common, model: `${o.model}:query` });
  }

  override getQueryEmbedding(query: MessageContentDetail): Promise<number[] | null> {
    return this.queries.getQueryEmbedding(query);
  }
}

export interface XlirRetrieverOptions {
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
  constructor(private readonly o: XlirRetrieverOptions) {
    super();
  }

  async _retrieve(params: QueryBundle): Promise<NodeWithScore[]> {
    const { url, collection, k, mode, filter, lang, apiKey } = this.o;
    const res = await fetch(`${url}/collections/${encodeURIComponent(collection)}/search`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      },
      body: JSON.stringify({ query: extractText(params.query), k, mode, filter, lang }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`xlir search: ${body?.error?.message ?? `HTTP ${res.status}`}`);
    return (body.hits as Hit[]).map((h) => ({
      node: new TextNode({
        id_: h.id,
        text: h.text,
        metadata: { ...h.metadata, lang: h.lang, title: h.title },
      }),
      score: h.score,
    }));
  }
}

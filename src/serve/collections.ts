// Collection routes: list, create, stats, upsert/delete documents, search (one query or many).
// Collections are opened on first use and kept open. Writes to one collection run one at a time
// (the collection's writer lock is per process) and go through the same addDocuments as `xlir
// index`: committed in batches, resumable, answered only once committed. A dense collection uses a
// served model when it is the one the collection was built with, else loads its own.
import type { FastifyInstance } from "fastify";
import { Collection } from "../index/collection.ts";
import { parseDocScore } from "../index/doc-score.ts";
import { filterFromObject, parseFilters, type Filter } from "../index/filter.ts";
import { checkCollectionName } from "../index/home.ts";
import { listStoreCollections, type LocateOptions } from "../index/stores.ts";
import { addDocuments, deleteDocuments } from "../index/indexer.ts";
import { jsonDoc } from "../index/ingest.ts";
import { searchDetailed, type SearchMode, type SearchOptions } from "../index/search.ts";
import {
  ApiError,
  badRequest,
  describe,
  field,
  isBool,
  isNumber,
  isPositiveInt,
  isString,
  objectBody,
} from "./errors.ts";
import { pickModel } from "./models.ts";
import type { ServerContext } from "./context.ts";

const MODES: readonly SearchMode[] = ["dense", "bm25", "hybrid"];

export class CollectionPool {
  private open = new Map<string, Promise<Collection>>();
  private writes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ctx: ServerContext,
    /** The xlir home, or a PostgreSQL store. */
    readonly loc: LocateOptions,
  ) {}

  names(): Promise<string[]> {
    return listStoreCollections(this.loc);
  }

  /** The open collection, or 404 naming the ones there are. */
  get(name: string): Promise<Collection> {
    let p = this.open.get(name);
    if (!p) {
      p = (async () => {
        if (!(await Collection.exists(name, this.loc))) {
          const names = (await this.names()).join(", ");
          throw new ApiError(
            404,
            `collection "${name}" does not exist: use one of ${names || "none yet (POST /collections)"}`,
            "name",
            "collection_not_found",
          );
        }
        return this.shareEncoder(await Collection.open(name, this.loc));
      })();
      this.open.set(name, p);
      p.catch(() => this.open.delete(name));
    }
    return p;
  }

  /** A served model the collection was built with, when there is one (else it loads its own on first search). */
  private shareEncoder(col: Collection): Collection {
    if (!col.dense) return col;
    for (const m of this.ctx.models().values()) {
      try {
        col.useEncoder(m.encoder);
        return col;
      } catch {
        // another model: try the next
      }
    }
    return col;
  }

  add(name: string, col: Collection): void {
    this.open.set(name, Promise.resolve(col));
  }

  /** Runs `fn` after the collection's earlier writes (one writer per collection). */
  write<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.writes.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.writes.set(
      name,
      next.catch(() => {}),
    );
    return next;
  }

  async close(): Promise<void> {
    await Promise.all([...this.writes.values()]);
    for (const p of this.open.values()) await (await p.catch(() => null))?.close();
    this.open.clear();
  }
}

export function collectionRoutes(app: FastifyInstance, ctx: ServerContext, pool: CollectionPool): void {
  app.get("/collections", async () => {
    const out = [];
    for (const name of await pool.names()) out.push(summary(await (await pool.get(name)).info()));
    return { collections: out };
  });

  app.post("/collections", async (req, reply) => {
    const o = objectBody(req.body);
    const name = field(o, "name", isString, "a collection name");
    if (name === undefined) throw badRequest("name", '"name" is required: the new collection\'s name');
    try {
      checkCollectionName(name);
    } catch (e) {
      throw badRequest("name", (e as Error).message);
    }
    if (await Collection.exists(name, pool.loc))
      throw new ApiError(
        409,
        `collection "${name}" already exists: add documents to it, or pick another name`,
        "name",
      );
    const lexical = o.model === "bm25";
    const model = lexical ? null : pickModel(ctx.models(), o.model).model;
    const chunkTokens = field(o, "chunk_tokens", isPositiveInt, "a positive integer");
    const overlap = field(
      o,
      "overlap",
      (v): v is number => Number.isInteger(v) && (v as number) >= 0,
      "an integer >= 0",
    );
    const docScore = field(o, "doc_score", isString, '"max", "sum" or "sum:K"');
    const col = await pool.write(name, async () =>
      Collection.openOrCreate(name, {
        ...pool.loc,
        model: model ? model.encoder : "bm25",
        chunking:
          chunkTokens === undefined && overlap === undefined ? undefined : { tokens: chunkTokens, overlap },
        docScore:
          docScore === undefined ? undefined : asBadRequest("doc_score", () => parseDocScore(docScore)),
      }).catch((e: Error) => {
        throw e instanceof ApiError ? e : badRequest("name", e.message);
      }),
    );
    pool.add(name, col);
    reply.code(201);
    return summary(await col.info());
  });

  app.get<{ Params: { name: string } }>("/collections/:name", async (req) =>
    summary(await (await pool.get(req.params.name)).info()),
  );

  // upsert: a JSON array of documents, {"documents": [...], "delete": [ids]}, or NDJSON lines
  app.post<{ Params: { name: string }; Querystring: { lang?: string } }>(
    "/collections/:name/documents",
    async (req) => {
      const col = await pool.get(req.params.name);
      const { docs, remove } = readDocuments(req.body);
      const lang = req.query.lang;
      return pool.write(col.name, async () => {
        const missing = remove.length ? await deleteDocuments(col, remove) : [];
        const p = docs.length ? await addDocuments(col, docs, { lang }).catch(asBadInput) : null;
        return {
          added: p?.added ?? 0,
          updated: p?.updated ?? 0,
          unchanged: p?.unchanged ?? 0,
          duplicates: p?.duplicates ?? 0,
          chunks: p?.chunks ?? 0,
          deleted: remove.length - missing.length,
          ...(missing.length ? { not_found: missing } : {}),
        };
      });
    },
  );

  app.delete<{ Params: { name: string; id: string } }>("/collections/:name/documents/:id", async (req) => {
    const col = await pool.get(req.params.name);
    const missing = await pool.write(col.name, () => deleteDocuments(col, [req.params.id]));
    if (missing.length)
      throw new ApiError(
        404,
        `collection "${col.name}" has no document "${req.params.id}"`,
        "id",
        "document_not_found",
      );
    return { deleted: 1 };
  });

  app.post<{ Params: { name: string } }>("/collections/:name/search", async (req) => {
    const o = objectBody(req.body);
    const col = await pool.get(req.params.name);
    const opts = searchOptions(o, col);
    const one = async (query: string) => {
      const end = ctx.metrics.searchSeconds.startTimer({ mode: opts.mode });
      try {
        const r = await searchDetailed(col, query, opts);
        return { hits: r.hits, query_langs: r.queryLangs, detected: r.detected, warning: r.warning };
      } catch (e) {
        throw e instanceof ApiError ? e : badRequest("query", (e as Error).message);
      } finally {
        end();
      }
    };
    if (o.queries !== undefined) {
      if (o.query !== undefined) throw badRequest("queries", 'give "query" or "queries", not both');
      const queries = o.queries;
      if (
        !Array.isArray(queries) ||
        queries.length === 0 ||
        queries.some((q) => typeof q !== "string" || q.trim() === "")
      )
        throw badRequest(
          "queries",
          `"queries" must be a non-empty array of non-empty strings, got ${describe(queries)}`,
        );
      if (queries.length > ctx.limits.maxQueries)
        throw badRequest(
          "queries",
          `"queries" has ${queries.length} queries, at most ${ctx.limits.maxQueries}: split them`,
        );
      const results = [];
      for (const q of queries as string[]) results.push(await one(q));
      return { results };
    }
    const query = field(o, "query", isString, "a string");
    if (query === undefined || query.trim() === "")
      throw badRequest("query", '"query" is required: the text to search for (or "queries": [...])');
    return one(query);
  });
}

function searchOptions(o: Record<string, unknown>, col: Collection): SearchOptions & { mode: SearchMode } {
  const mode = (field(o, "mode", isString, '"dense", "bm25" or "hybrid"') ??
    (col.neural ? "dense" : "bm25")) as SearchMode;
  if (!MODES.includes(mode))
    throw badRequest("mode", `"mode" must be "dense", "bm25" or "hybrid", got "${mode}"`);
  if (mode !== "bm25" && !col.neural)
    throw badRequest("mode", `collection "${col.name}" is lexical only (bm25): use "mode": "bm25"`);
  const fusion = field(o, "fusion", isString, '"rrf" or "weighted"');
  if (fusion !== undefined && fusion !== "rrf" && fusion !== "weighted")
    throw badRequest("fusion", `"fusion" must be "rrf" or "weighted", got "${fusion}"`);
  const weight = field(o, "weight", isNumber, "a number in [0, 1]");
  if (weight !== undefined && (weight < 0 || weight > 1))
    throw badRequest("weight", `"weight" must be in [0, 1], got ${weight}`);
  const k = field(o, "k", isPositiveInt, "a positive integer") ?? 10;
  if (k > 1000) throw badRequest("k", `"k" is ${k}: ask for at most 1000 documents`);
  const docScore = field(o, "doc_score", isString, '"max", "sum" or "sum:K"');
  return {
    mode,
    k,
    fusion,
    weight,
    lang: field(o, "lang", isString, 'a language code or "auto"') ?? "auto",
    filter: readFilter(o.filter),
    docScore: docScore === undefined ? undefined : asBadRequest("doc_score", () => parseDocScore(docScore)),
    explain: field(o, "explain", isBool, "true or false") ?? false,
    highlight: field(o, "highlight", isBool, "true or false") ?? false,
  } as SearchOptions & { mode: SearchMode };
}

/** {"lang": [...], "field": value} or ["lang=de,fr", "topic!=x"]. */
function readFilter(f: unknown): Filter {
  if (f === undefined || f === null) return [];
  return asBadRequest("filter", () => {
    if (Array.isArray(f) && f.every((x) => typeof x === "string")) return parseFilters(f);
    if (typeof f === "object" && !Array.isArray(f)) return filterFromObject(f as Record<string, unknown>);
    throw new Error(
      `"filter" must be an object like {"lang": ["de", "fr"]} or a list like ["lang=de,fr"], got ${describe(f)}`,
    );
  });
}

function readDocuments(body: unknown): { docs: ReturnType<typeof jsonDoc>[]; remove: string[] } {
  let list: unknown[];
  let remove: unknown[] = [];
  if (Array.isArray(body)) list = body;
  else if (typeof body === "object" && body !== null) {
    const o = body as Record<string, unknown>;
    list = (o.documents ?? []) as unknown[];
    remove = (o.delete ?? []) as unknown[];
    if (!Array.isArray(list))
      throw badRequest("documents", `"documents" must be an array of documents, got ${describe(list)}`);
    if (!Array.isArray(remove) || remove.some((id) => typeof id !== "string"))
      throw badRequest(
        "delete",
        `"delete" must be an array of document ids (strings), got ${describe(o.delete)}`,
      );
  } else
    throw badRequest(
      "documents",
      'send a JSON array of documents, {"documents": [...], "delete": [...]}, or NDJSON lines',
    );
  if (list.length === 0 && remove.length === 0)
    throw badRequest("documents", "no documents to add and none to delete");
  const docs = list.map((d, i) => asBadRequest(`documents[${i}]`, () => jsonDoc(d, `documents[${i}]`)));
  return { docs, remove: remove as string[] };
}

/** The library's one-line error as a 400 naming `param`. */
function asBadRequest<T>(param: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof ApiError ? e : badRequest(param, (e as Error).message);
  }
}

/** An indexing error caused by the documents (a bad language code, ...) is the client's: 400. */
function asBadInput(e: Error): never {
  throw e instanceof ApiError ? e : badRequest("documents", e.message);
}

function summary(info: Awaited<ReturnType<Collection["info"]>>) {
  const enc = info.encoder;
  return {
    name: info.name,
    kind: enc.kind,
    model: enc.kind === "bm25" ? "bm25" : enc.model,
    dims: enc.kind === "bm25" ? null : enc.dims,
    documents: info.documents,
    chunks: info.chunks,
    languages: info.languages,
    doc_score: info.docScore,
    created: info.created,
    store: info.store,
    bytes: info.bytes,
  };
}

// Target token sets for Aggretriever's target mode (the file format: encode/agg-vocab-file.ts),
// built from a corpus or a collection's documents of one language, and stored per language in a
// collection (agg-vocab/<lang>.json), so indexing and searching a language use that language's set.
// A stored set is never replaced by a different one: the vectors already indexed were predicted over
// the stored set, and new ones over another set would not compare with them.
import {
  AGG_VOCAB_FORMAT,
  type AggVocab,
  aggVocabBytes,
  parseAggVocab,
  sameIds,
} from "../encode/agg-vocab-file.ts";
import type { Encoder } from "../encode/encoder.ts";
import { type LanguageDetector, UNDETERMINED } from "../text/langid.ts";
import { DEFAULT_NLLB_LANG } from "../text/nllb-input.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import type { Collection } from "./collection.ts";
import type { InputDoc } from "./ingest.ts";
import type { StoreFiles } from "./store.ts";

/** The folder of a collection that holds its token sets, one <lang>.json each. */
export const AGG_VOCAB_DIR = "agg-vocab";

/** The language an encoder is given for a document or query of `lang` ("und" reads as English). */
export const encodedLang = (lang: string): string => (lang === UNDETERMINED ? DEFAULT_NLLB_LANG : lang);

/** A language as the indexer reads it from a document or an option: an NLLB code, or "und". */
export function documentLang(code: string, what: string): string {
  if (code.toLowerCase() === UNDETERMINED) return UNDETERMINED;
  try {
    return resolveNllbLang(code);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** The token set of `lang` over the texts of `docs`, read as `enc` reads them; `documents` counts them. */
export async function buildAggVocab(
  enc: Encoder,
  lang: string,
  docs: AsyncIterable<{ text: string; title?: string | null }>,
): Promise<{ vocab: AggVocab; documents: number }> {
  const seen = new Set<number>();
  let batch: { text: string; title?: string | null }[] = [];
  let documents = 0;
  for await (const d of docs) {
    documents++;
    batch.push(d);
    if (batch.length >= 1024) batch = addTokens(enc, seen, batch);
  }
  addTokens(enc, seen, batch);
  return { vocab: vocabOf(enc, lang, seen), documents };
}

/** The token set of `lang` over a collection's documents encoded in that language (scanned batch by batch). */
export async function collectionAggVocab(
  enc: Encoder,
  col: Collection,
  lang: string,
): Promise<{ vocab: AggVocab; documents: number }> {
  const seen = new Set<number>();
  let documents = 0;
  await col.store.scanDocTexts(({ langs, titles, texts }) => {
    const docs = texts.flatMap((text, i) =>
      encodedLang(langs[i] ?? UNDETERMINED) === lang ? [{ text, title: titles[i] }] : [],
    );
    documents += docs.length;
    addTokens(enc, seen, docs);
  });
  return { vocab: vocabOf(enc, lang, seen), documents };
}

/** Adds the token ids of the documents' texts and titles to `seen`; returns an empty batch. */
function addTokens(enc: Encoder, seen: Set<number>, docs: { text: string; title?: string | null }[]) {
  for (const id of enc.tokenSet(docs.flatMap((d) => (d.title ? [d.title, d.text] : [d.text])))) seen.add(id);
  return [];
}

function vocabOf(enc: Encoder, lang: string, seen: Set<number>): AggVocab {
  const ids = [...seen].sort((a, b) => a - b);
  return {
    format: AGG_VOCAB_FORMAT,
    lang,
    tokenizer: enc.tokenizerFingerprint,
    lowercase: enc.settings.lowerCase,
    size: ids.length,
    ids,
  };
}

/**
 * The documents of an input that are in `lang`: those whose own language is `lang`, and those that
 * give none (the corpus is taken to be in `lang`). Documents in "und" are encoded as English, so
 * they count for eng_Latn.
 */
export async function* docsInLang(docs: AsyncIterable<InputDoc>, lang: string): AsyncGenerator<InputDoc> {
  for await (const d of docs) {
    if (d.lang === undefined || encodedLang(documentLang(d.lang, `${d.source}: "lang"`)) === lang) yield d;
  }
}

const vocabBlob = (lang: string) => `${AGG_VOCAB_DIR}/${lang}.json`;
// what a language code can be before it names a file (NLLB codes are "hin_Deva")
const SAFE_LANG = /^[a-z]{3}_[A-Za-z]{4}$/;

/** The token sets a collection holds, by language. */
export async function storedAggVocabs(store: StoreFiles): Promise<Map<string, AggVocab>> {
  const out = new Map<string, AggVocab>();
  for (const name of await store.listBlobs(`${AGG_VOCAB_DIR}/`)) {
    const lang = name.slice(AGG_VOCAB_DIR.length + 1, -".json".length);
    if (!name.endsWith(".json") || !SAFE_LANG.test(lang)) continue;
    const bytes = await store.readBlob(name);
    if (bytes !== null) out.set(lang, parseAggVocab(bytes.toString("utf8"), name));
  }
  return out;
}

/**
 * Refuses sets that would replace a different stored set of the same language in collection `name`;
 * returns those not stored yet. Called before anything is written, and again by storeAggVocabs
 * under the collection's lock.
 */
export function freshAggVocabs(
  stored: ReadonlyMap<string, AggVocab>,
  name: string,
  given: Iterable<{ vocab: AggVocab; path: string }>,
): AggVocab[] {
  const fresh: AggVocab[] = [];
  for (const { vocab, path } of given) {
    const old = stored.get(vocab.lang);
    if (old === undefined) fresh.push(vocab);
    else if (!sameIds(old, vocab))
      throw new Error(
        `collection "${name}" already has a token set for ${vocab.lang} (${old.size} ids), and ${path} differs ` +
          `from it: the documents indexed so far were encoded with the stored one; leave ${path} out, or index into a new collection`,
      );
  }
  return fresh;
}

/** Stores the sets not stored yet (the caller holds the collection's lock); returns their languages. */
export async function storeAggVocabs(
  store: StoreFiles,
  name: string,
  given: Iterable<{ vocab: AggVocab; path: string }>,
): Promise<string[]> {
  const fresh = freshAggVocabs(await storedAggVocabs(store), name, given);
  for (const v of fresh) await store.writeBlob(vocabBlob(v.lang), aggVocabBytes(v));
  return fresh.map((v) => v.lang);
}

/**
 * The languages, as the encoder will be given them, of input documents that have no token set
 * (`has` says which do), sorted, each with the first document in it: read before anything is
 * indexed, so target mode refuses a document it could not encode before any batch is committed.
 * Languages are read as the indexer reads them: the document's own, else `defaultLang` ("auto":
 * detected with `detect`).
 */
export async function langsWithoutVocab(
  docs: AsyncIterable<InputDoc> | Iterable<InputDoc>,
  defaultLang: string,
  has: (lang: string) => boolean,
  detect: () => Promise<LanguageDetector>,
): Promise<{ lang: string; source: string }[]> {
  const missing = new Map<string, string>();
  const dflt = defaultLang === "auto" ? "auto" : documentLang(defaultLang, "--lang");
  for await (const d of docs) {
    let lang =
      d.lang !== undefined ? documentLang(d.lang, `${d.source}: "lang" of document "${d.id}"`) : dflt;
    if (lang === "auto") lang = (await detect())(d.text);
    lang = encodedLang(lang);
    if (!missing.has(lang) && !has(lang)) missing.set(lang, d.source);
  }
  return [...missing].map(([lang, source]) => ({ lang, source })).sort((a, b) => (a.lang < b.lang ? -1 : 1));
}

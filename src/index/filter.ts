// Search filters: on the document's language and on its metadata fields. A filter is a list of
// conditions that must all hold; a condition lists values of which one must match.
//   --filter lang=de,fr        documents in German or French (any spelling resolveNllbLang takes)
//   --filter topic=science     metadata.topic is "science" (or holds it, when it is an array)
//   --filter year!=2020        metadata.year is not 2020
//   --filter source.site=wiki  nested fields by dotted path
import { resolveNllbLang } from "../text/nllb-langs.ts";
import { UNDETERMINED } from "../text/langid.ts";

export interface Condition {
  /** "lang", or a metadata field path. */
  field: string;
  negate: boolean;
  values: string[];
}

export type Filter = Condition[];

/** Parses "--filter" expressions: FIELD=V1,V2 or FIELD!=V1,V2. */
export function parseFilters(exprs: readonly string[]): Filter {
  return exprs.map((e) => {
    const m = /^\s*([^=!\s][^=!]*?)\s*(!?=)\s*(.*)$/.exec(e);
    if (!m || m[3] === "") {
      throw new Error(
        `--filter ${JSON.stringify(e)}: write FIELD=VALUE or FIELD!=VALUE (e.g. lang=de or topic=science,sports)`,
      );
    }
    const field = m[1];
    const values = m[3].split(",").map((v) => v.trim());
    return { field, negate: m[2] === "!=", values: field === "lang" ? values.map(langCode) : values };
  });
}

function langCode(v: string): string {
  return v.toLowerCase() === UNDETERMINED ? UNDETERMINED : resolveNllbLang(v);
}

/** Documents passing the filter, as a 0/1 mask over the document numbers; null when no filter. */
export function allowedDocs(
  filter: Filter,
  langs: readonly string[],
  metadata: readonly string[],
): Uint8Array | null {
  if (filter.length === 0) return null;
  const mask = new Uint8Array(langs.length);
  const parsed: (Record<string, unknown> | undefined)[] = [];
  const meta = (d: number) => (parsed[d] ??= JSON.parse(metadata[d] || "{}") as Record<string, unknown>);
  for (let d = 0; d < langs.length; d++) {
    mask[d] = filter.every((c) => {
      const hit =
        c.field === "lang"
          ? c.values.includes(langs[d])
          : c.values.some((v) => matches(pathGet(meta(d), c.field), v));
      return hit !== c.negate;
    })
      ? 1
      : 0;
  }
  return mask;
}

/**
 * Metadata fields the filter names that no document has (misspellings, most likely): such a
 * condition matches nothing, or everything when negated, and the caller should say so.
 */
export function unknownFields(filter: Filter, metadata: readonly string[]): string[] {
  const wanted = [...new Set(filter.filter((c) => c.field !== "lang").map((c) => c.field))];
  if (wanted.length === 0) return [];
  const found = new Set<string>();
  for (let d = 0; d < metadata.length && found.size < wanted.length; d++) {
    const meta = JSON.parse(metadata[d] || "{}") as Record<string, unknown>;
    for (const f of wanted) if (!found.has(f) && pathGet(meta, f) !== undefined) found.add(f);
  }
  return wanted.filter((f) => !found.has(f));
}

function pathGet(obj: unknown, path: string): unknown {
  if (Object.hasOwn(obj as object, path)) return (obj as Record<string, unknown>)[path];
  let cur = obj;
  for (const key of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function matches(value: unknown, wanted: string): boolean {
  if (value === undefined) return false;
  if (Array.isArray(value)) return value.some((v) => matches(v, wanted));
  if (typeof value === "string") return value === wanted;
  return JSON.stringify(value) === wanted || String(value) === wanted;
}

/**
 * The JSON form of a filter (an HTTP request's): {"lang": ["de", "fr"], "topic": "science"}, each
 * field one value or a list of which one must match; a "!" after the name negates
 * ({"year!": 2020}). Values are compared as --filter's are (strings, or their JSON).
 */
export function filterFromObject(obj: Record<string, unknown>): Filter {
  return Object.entries(obj).map(([key, v]) => {
    const negate = key.endsWith("!");
    const field = negate ? key.slice(0, -1) : key;
    const list = Array.isArray(v) ? v : [v];
    if (field === "" || list.length === 0 || list.some((x) => x === null || typeof x === "object"))
      throw new Error(
        `filter ${JSON.stringify(key)}: give a field name and a value or a list of values (strings, numbers, booleans), e.g. {"lang": ["de", "fr"]}`,
      );
    const values = list.map(String);
    return { field, negate, values: field === "lang" ? values.map(langCode) : values };
  });
}

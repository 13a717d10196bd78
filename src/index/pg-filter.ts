// A search filter (filter.ts) as SQL conditions on a collection's documents, for the searches
// PostgreSQL runs itself (pg-store.ts exactSearch): the filter is pushed down into the WHERE, so
// the server skips what it excludes instead of sending every row.
//
// Language conditions translate exactly (documents.lang = ANY(...)). Metadata conditions are
// matched by filter.ts in JavaScript terms (a string equal to the value, an array holding it at
// any depth, a number or object whose JSON or String() form equals it), which jsonb cannot
// reproduce for every value: 1.0 is "1" to JavaScript and "1.0" to jsonb, an object's keys come
// back in another order. So a metadata condition becomes a condition that every document passing
// it also passes (wider where jsonb cannot tell: numbers, objects, documents whose metadata has no
// jsonb copy), and the caller checks the filter itself on the rows that come back (`exact` false).
// Widening never loses a document; narrowing is the caller's check.
//
// A field path is pushed down only when jsonb walks it as JavaScript does: plain keys and
// canonical array indexes. Other paths ("tags.length" is a number in JavaScript and nothing in
// jsonb, "a.-1" the last element in jsonb and nothing in JavaScript) are left to the caller's check.
import type { Filter } from "./filter.ts";

export interface SqlFilter {
  /** Conditions on `documents` (aliased d), to be ANDed; $N are numbered from the caller's first. */
  where: string[];
  values: unknown[];
  /** Every row passing `where` passes the filter: no check after. */
  exact: boolean;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ARRAY_INDEX = /^(0|[1-9]\d{0,8})$/;

/** Whether jsonb's d.metadata #> path finds exactly what filter.ts's walk finds. */
function pushable(path: string): boolean {
  return path
    .split(".")
    .every(
      (k) =>
        (PLAIN_KEY.test(k) || ARRAY_INDEX.test(k)) && !(k in Object.prototype) && !(k in Array.prototype),
    );
}

/** `filter` as conditions on documents d, the first parameter being $`first`. */
export function filterSql(filter: Filter, first: number): SqlFilter {
  const where: string[] = [];
  const values: unknown[] = [];
  let exact = true;
  const param = (v: unknown, type: string) => {
    values.push(v);
    return `$${first + values.length - 1}::${type}`;
  };
  for (const c of filter) {
    if (c.field === "lang") {
      where.push(`${c.negate ? "NOT " : ""}(d.lang = ANY(${param(c.values, "text[]")}))`);
      continue;
    }
    exact = false;
    if (!pushable(c.field)) continue;
    // the own key "a.b" first, as filter.ts looks it up, else the nested path
    const key = param(c.field, "text");
    const x = c.field.includes(".")
      ? `(CASE WHEN d.metadata ? ${key} THEN d.metadata -> ${key} ELSE d.metadata #> ${param(c.field.split("."), "text[]")} END)`
      : `(d.metadata -> ${key})`;
    const wanted = param(c.values, "text[]");
    if (!c.negate) {
      // a value or, at any depth of arrays, an element, whose text is wanted; numbers and objects
      // whenever JavaScript's String()/JSON of one could be a wanted value
      const kept = [
        ...(c.values.some((v) => v.trim() !== "" && Number.isFinite(Number(v))) ? ["number"] : []),
        ...(c.values.some((v) => v.startsWith("{") || v === "[object Object]") ? ["object"] : []),
        ...(c.values.includes("null") ? ["null"] : []),
      ];
      const types = kept.length ? ` OR jsonb_typeof(e.v) IN (${kept.map((t) => `'${t}'`).join(", ")})` : "";
      where.push(
        `(d.metadata IS NULL OR EXISTS (SELECT 1 FROM jsonb_path_query(${x}, 'lax $.**') AS e(v) ` +
          `WHERE e.v #>> '{}' = ANY(${wanted})${types}))`,
      );
    } else {
      // out only what surely matches: a string or boolean, or one directly in an array, that is wanted
      where.push(
        `NOT (d.metadata IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_path_query(${x}, 'lax $[*]') AS e(v) ` +
          `WHERE jsonb_typeof(e.v) IN ('string', 'boolean') AND e.v #>> '{}' = ANY(${wanted})))`,
      );
    }
  }
  return { where, values, exact };
}

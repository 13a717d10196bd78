// --query-prefix / --passage-prefix: the text an encoder prepends per role, for checkpoints whose
// files do not say it (see encode/conventions.ts decidePrompts). An empty string is a real value
// ("no prefix"), so the options take any text, "" included.

import { Option } from "commander";
import type { Role } from "../encode/conventions.ts";
import { Collection, type LocateOptions } from "../index/collection.ts";

export const queryPrefixOption = (extra = "") =>
  new Option(
    "--query-prefix <text>",
    `text prepended to queries, e.g. "query: " (default: what the model's files say)${extra}`,
  );

export const passagePrefixOption = (extra = "") =>
  new Option(
    "--passage-prefix <text>",
    `text prepended to passages, e.g. "passage: " (default: what the model's files say)${extra}`,
  );

/** The prefixes given on the command line; roles not given are left out. */
export function givenPrompts(o: {
  queryPrefix?: string;
  passagePrefix?: string;
}): Partial<Record<Role, string>> {
  const out: Partial<Record<Role, string>> = {};
  if (o.queryPrefix !== undefined) out.query = o.queryPrefix;
  if (o.passagePrefix !== undefined) out.passage = o.passagePrefix;
  return out;
}

/** The prefixes collection `name` recorded ({} for lexical or older collections). */
export async function recordedPrompts(
  name: string,
  loc: LocateOptions,
): Promise<Partial<Record<Role, string>>> {
  const col = await Collection.open(name, loc);
  await col.close();
  const enc = col.manifest.encoder;
  return enc.kind === "dense" && enc.prompts ? { ...enc.prompts } : {};
}

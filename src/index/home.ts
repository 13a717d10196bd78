// Where collections live: HOME/collections/NAME, HOME being --home, else $XLIR_HOME, else ~/.xlir.
// A folder there is a collection when it holds a collection.json (manifest.ts).
import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { MANIFEST_FILE } from "./manifest.ts";

export function xlirHome(home?: string): string {
  return resolve(home ?? process.env.XLIR_HOME ?? join(homedir(), ".xlir"));
}

export function collectionsDir(home?: string): string {
  return join(xlirHome(home), "collections");
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Checks a collection name: it becomes a folder name, so letters, digits, ".", "_", "-" only. */
export function checkCollectionName(name: string): string {
  if (typeof name !== "string" || !NAME.test(name) || name.endsWith(".")) {
    throw new Error(
      `collection name ${JSON.stringify(name)} is not allowed: use letters, digits, ".", "_" and "-" ` +
        `(at most 128, starting with a letter or digit), e.g. my-docs`,
    );
  }
  return name;
}

/** The folder of collection NAME (which may not exist yet). */
export function collectionPath(name: string, home?: string): string {
  return join(collectionsDir(home), checkCollectionName(name));
}

/** Names of the collections under HOME, sorted. */
export function listCollections(home?: string): string[] {
  const dir = collectionsDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => NAME.test(n) && existsSync(join(dir, n, MANIFEST_FILE)))
    .filter((n) => statSync(join(dir, n)).isDirectory())
    .sort();
}

/** Throws the one-line "unknown collection" error, listing what exists. */
export function unknownCollection(name: string, home?: string): Error {
  const names = listCollections(home);
  const where = collectionsDir(home);
  return new Error(
    `no collection "${name}" in ${where}: ` +
      (names.length
        ? `the collections there are ${names.join(", ")}`
        : `there is none yet; create one with xlir index ${name} --model ID --input FILE`) +
      " (or point --home / XLIR_HOME at another folder)",
  );
}

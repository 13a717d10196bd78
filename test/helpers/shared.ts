// Where the tests find the read-only project inputs: ../shared beside the checkout, and the fixtures
// root, which XLIR_FIXTURES may point elsewhere (other fixture sets in the same layout).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const sharedDir = resolve(repoRoot, "..", "shared");
export const fixturesRoot = process.env.XLIR_FIXTURES
  ? resolve(process.env.XLIR_FIXTURES)
  : join(sharedDir, "fixtures");

// The end of `npm run build`, after tsc has compiled src/ into dist/: the files that are not
// compiled, then the build stamp, last, so that bin/dist.js runs dist/ only after a whole build.
import { cpSync, writeFileSync } from "node:fs";
import { BUILD_STAMP } from "../bin/dist.js";

cpSync("src/serve/ui", "dist/serve/ui", { recursive: true });
// ELD's database, which loads many times faster than eld/medium (src/text/langid.ts)
const { ELD_DATABASE, eldMediumDatabase } = await import("../dist/text/langid.js");
writeFileSync(`dist/text/${ELD_DATABASE}`, await eldMediumDatabase());
writeFileSync(BUILD_STAMP, "");

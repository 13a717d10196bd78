#!/usr/bin/env node
// The xlir command: the JavaScript built into dist/ when it is the build of the current sources
// (always, installed from the package, which ships dist/ and no src/), else in a checkout the
// TypeScript sources through tsx, so `npm install` is the only set-up and no stale build is ever
// run. `npm run build` in a checkout gives the fast start (dist.js says when dist/ is used).
import { URL } from "node:url";
import { builtMain } from "./dist.js";

const main = builtMain();
if (main !== null) {
  await import(main.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}

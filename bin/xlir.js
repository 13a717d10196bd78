#!/usr/bin/env node
// The xlir command. In a checkout (src/ beside bin/) it runs the TypeScript sources through tsx, so
// `npm install` is the only set-up and no stale build is ever run; installed from the package (which
// ships dist/, not src/) it runs the JavaScript that `npm pack` built into dist/.
import { existsSync } from "node:fs";
import { URL } from "node:url";

const sources = new URL("../src/cli/main.ts", import.meta.url);
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(sources.href);
} else {
  await import("../dist/cli/main.js");
}

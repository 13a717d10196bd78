#!/usr/bin/env node
// The xlir command. Runs the TypeScript sources through tsx so `npm install` is the only set-up.
import { register } from "tsx/esm/api";
register();
await import("../src/cli/main.ts");

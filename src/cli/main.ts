// The xlir command line: one file per command under src/cli; this one wires them and turns a
// thrown Error into one line on standard error and exit code 1.

import { Command } from "commander";
import { distillCommand } from "./distill.ts";
import { embedCommand } from "./embed.ts";
import { evalRunCommand } from "./eval-run.ts";
import { evalTrecCommand } from "./eval-trec.ts";
import { collectionsCommand } from "./collections.ts";
import { indexCommand } from "./index.ts";
import { searchCommand } from "./search.ts";

export function program(): Command {
  return new Command("xlir")
    .description("Zero-shot multilingual and cross-lingual retrieval: NLLB-E5, mAggretriever and friends.")
    .version("0.1.0")
    .addCommand(embedCommand())
    .addCommand(distillCommand())
    .addCommand(indexCommand())
    .addCommand(searchCommand())
    .addCommand(collectionsCommand())
    .addCommand(
      new Command("eval")
        .description("evaluate retrieval runs and models")
        .addCommand(evalTrecCommand())
        .addCommand(evalRunCommand()),
    );
}

program()
  .parseAsync()
  .catch((e: Error) => {
    process.stderr.write(`xlir: ${e.message}\n`);
    process.exitCode = 1;
  });

// The xlir command line: one file per command under src/cli; this one wires them and turns a
// thrown Error into one line on standard error and exit code 1. Every message xlir prints for a
// failure starts with "xlir:", commander's own usage errors included (they say "error:" by default).

import { Command } from "commander";
import { aggVocabCommand } from "./agg-vocab.ts";
import { augmentCommand } from "./augment.ts";
import { distillCommand } from "./distill.ts";
import { embedCommand } from "./embed.ts";
import { evalRunCommand } from "./eval-run.ts";
import { evalTrecCommand } from "./eval-trec.ts";
import { collectionsCommand } from "./collections.ts";
import { indexCommand } from "./index.ts";
import { mineCommand } from "./mine.ts";
import { searchCommand } from "./search.ts";
import { serveCommand } from "./serve.ts";
import { trainCommand } from "./train.ts";
import { translateCommand } from "./translate.ts";

export function program(): Command {
  return withXlirErrors(
    new Command("xlir")
      .description("Zero-shot multilingual and cross-lingual retrieval: NLLB-E5, mAggretriever and friends.")
      .version("0.1.0")
      .addCommand(embedCommand())
      .addCommand(distillCommand())
      .addCommand(indexCommand())
      .addCommand(searchCommand())
      .addCommand(serveCommand())
      .addCommand(mineCommand())
      .addCommand(augmentCommand())
      .addCommand(trainCommand())
      .addCommand(collectionsCommand())
      .addCommand(aggVocabCommand())
      .addCommand(translateCommand())
      .addCommand(
        new Command("eval")
          .description("evaluate retrieval runs and models")
          .addCommand(evalTrecCommand())
          .addCommand(evalRunCommand()),
      ),
  );
}

/** Commander's usage errors ("error: option '--k <n>' argument ...") in xlir's voice, on every subcommand. */
function withXlirErrors(cmd: Command): Command {
  cmd.configureOutput({ outputError: (s, write) => write(s.replace(/^error: /, "xlir: ")) });
  for (const sub of cmd.commands) withXlirErrors(sub);
  return cmd;
}

// `xlir search ... --json | head`: a reader that closed the pipe has all it wanted; end quietly
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

program()
  .parseAsync()
  .catch((e: Error) => {
    process.stderr.write(`xlir: ${e.message}\n`);
    process.exitCode = 1;
  });

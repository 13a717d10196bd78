// The xlir command line: one file per command under src/cli; this one wires them and turns a
// thrown Error into one line on standard error and exit code 1. Every message xlir prints for a
// failure starts with "xlir:", commander's own usage errors included (they say "error:" by default).
//
// Start-up time: each command's module (and what it imports: ONNX Runtime, LanceDB, fastify...) is
// loaded only when argv names that command, so `xlir search` does not pay for `xlir serve`. Anything
// else (no command, --help, --version, `help`, a mistyped name) loads them all, so the overview,
// commander's "did you mean" and its errors are exactly those of the full program.

import { Command } from "commander";

type Loader = () => Promise<Command>;

// In the order `xlir --help` lists them.
const COMMANDS: readonly [name: string, load: Loader][] = [
  ["embed", async () => (await import("./embed.ts")).embedCommand()],
  ["distill", async () => (await import("./distill.ts")).distillCommand()],
  ["index", async () => (await import("./index.ts")).indexCommand()],
  ["search", async () => (await import("./search.ts")).searchCommand()],
  ["serve", async () => (await import("./serve.ts")).serveCommand()],
  ["mine", async () => (await import("./mine.ts")).mineCommand()],
  ["augment", async () => (await import("./augment.ts")).augmentCommand()],
  ["train", async () => (await import("./train.ts")).trainCommand()],
  ["collections", async () => (await import("./collections.ts")).collectionsCommand()],
  ["agg-vocab", async () => (await import("./agg-vocab.ts")).aggVocabCommand()],
  ["translate", async () => (await import("./translate.ts")).translateCommand()],
  [
    "eval",
    async () => {
      const [trec, run] = await Promise.all([import("./eval-trec.ts"), import("./eval-run.ts")]);
      return new Command("eval")
        .description("evaluate retrieval runs and models")
        .addCommand(trec.evalTrecCommand())
        .addCommand(run.evalRunCommand());
    },
  ],
];

/** The program for `args` (the words after `xlir`): only the command they name, or every command. */
export async function program(args: readonly string[] = process.argv.slice(2)): Promise<Command> {
  const named = COMMANDS.filter(([name]) => name === args[0]);
  const commands = await Promise.all((named.length ? named : COMMANDS).map(([, load]) => load()));
  const xlir = new Command("xlir")
    .description("Zero-shot multilingual and cross-lingual retrieval: NLLB-E5, mAggretriever and friends.")
    .version("0.1.0");
  for (const c of commands) xlir.addCommand(c);
  return withXlirErrors(xlir);
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
  .then((p) => p.parseAsync())
  .catch((e: Error) => {
    process.stderr.write(`xlir: ${e.message}\n`);
    process.exitCode = 1;
  });

// xlir distill: train an NLLB-E5 student from an E5 teacher on English text and export the model
// folder. Ctrl-C finishes the step in flight, saves a checkpoint and exits; --resume continues.

import { Command, Option } from "commander";
import { distill } from "../train/distill.ts";
import { decimal, nonNegativeInt, positiveInt, threadsOption } from "./options.ts";
import { stopOnCtrlC } from "./interrupt.ts";
import { progressBar } from "./progress.ts";

export function distillCommand(): Command {
  return new Command("distill")
    .description(
      "distill an NLLB-E5 student (NLLB encoder -> projection -> E5 + LoRA) from an E5 teacher on English text",
    )
    .requiredOption(
      "--student-encoder <id-or-dir>",
      "NLLB-200 checkpoint, e.g. facebook/nllb-200-distilled-600M",
    )
    .requiredOption("--teacher <id-or-dir>", "E5 checkpoint, e.g. intfloat/e5-large-v2")
    .requiredOption("--data <files...>", "English training text: .txt (one per line), .tsv or .jsonl")
    .requiredOption("--steps <n>", "optimizer steps", positiveInt)
    .requiredOption("--output <dir>", "model folder to write (training state goes to <dir>/training)")
    .option("--resume", "continue the checkpoint in <output>/training", false)
    .option("--batch-size <n>", "texts per micro-batch", positiveInt, 16)
    .option("--grad-accum <n>", "micro-batches per optimizer step", positiveInt, 1)
    .option("--lr <x>", "peak learning rate", decimal({ above: 0 }), 2e-4)
    .option("--warmup-steps <n>", "linear warmup steps (default 10% of --steps)", nonNegativeInt)
    .option("--weight-decay <x>", "AdamW weight decay", decimal({ min: 0 }), 0)
    .option(
      "--max-grad-norm <x>",
      "clip gradients to this global norm (0: no clipping)",
      decimal({ min: 0 }),
      1,
    )
    .option("--projection-hidden <n>", "projection hidden size", positiveInt, 4096)
    .addOption(
      new Option("--projection-activation <a>", "between the two projection layers")
        .choices(["none", "relu", "gelu", "tanh"])
        .default("none"),
    )
    .addOption(
      new Option("--trainable <set>", "what trains")
        .choices(["projection", "projection+lora", "full"])
        .default("projection+lora"),
    )
    .option("--lora-r <n>", "LoRA rank", positiveInt, 32)
    .option("--lora-alpha <n>", "LoRA alpha", decimal({ above: 0 }), 64)
    .option("--lora-dropout <x>", "LoRA dropout", decimal({ min: 0, max: 0.99 }), 0.05)
    .option("--eval-every <n>", "held-out evaluation interval in steps (default steps/10)", positiveInt)
    .option("--eval-size <n>", "held-out texts (default 10%, at most 256)", nonNegativeInt)
    .option("--checkpoint-every <n>", "checkpoint interval in steps", positiveInt, 200)
    .option("--seed <n>", "random seed", nonNegativeInt, 42)
    .addOption(threadsOption())
    .option("--no-merge", "keep LoRA as a PEFT adapter folder instead of merging it into E5")
    .option(
      "--cache-nllb",
      "run the frozen NLLB encoder once per text and train from its states kept on disk as float16 (2 x d_model bytes per token, 2 KiB for NLLB-200) instead of in every step",
      false,
    )
    .addOption(
      new Option(
        "--nllb-dtype <dtype>",
        "the frozen NLLB encoder's linear layers in float32 or int8 (faster, its states slightly off): in every step, or in the one pass of --cache-nllb",
      )
        .choices(["float32", "int8"])
        .default("float32"),
    )
    .option("--json", "print progress as JSON lines")
    .action(async (o) => {
      const ctrlC = stopOnCtrlC();
      const bar = o.json ? () => {} : progressBar("training", o.steps);
      const teacherBar = o.json ? () => {} : progressBar("teacher vectors", 1);
      const nllbBar = o.json ? () => {} : progressBar("NLLB states", 1);
      try {
        const r = await distill(
          {
            studentEncoder: o.studentEncoder,
            teacher: o.teacher,
            data: o.data,
            steps: o.steps,
            output: o.output,
            batchSize: o.batchSize,
            gradAccum: o.gradAccum,
            lr: o.lr,
            warmupSteps: o.warmupSteps,
            weightDecay: o.weightDecay,
            maxGradNorm: o.maxGradNorm,
            projectionHidden: o.projectionHidden,
            projectionActivation: o.projectionActivation,
            trainable: o.trainable,
            lora: { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout },
            evalEvery: o.evalEvery,
            evalSize: o.evalSize,
            checkpointEvery: o.checkpointEvery,
            seed: o.seed,
            threads: o.threads,
            merge: o.merge,
            cacheNllb: o.cacheNllb,
            nllbDtype: o.nllbDtype,
            resume: o.resume,
          },
          {
            onStep: (s) =>
              o.json
                ? console.log(JSON.stringify(s))
                : bar(s.step, o.steps, `loss ${s.loss.toExponential(3)}`),
            onEval: (e) =>
              o.json
                ? console.log(JSON.stringify(e))
                : process.stderr.write(
                    `\nstep ${e.step}: held-out MSE ${e.eval_mse.toExponential(3)}, cosine ${e.eval_cosine.toFixed(4)}\n`,
                  ),
            onTeacher: (done, total) => teacherBar(done, total),
            onNllb: (done, total) => nllbBar(done, total),
            shouldStop: ctrlC.stopped,
          },
        );
        if (r.interrupted) {
          process.stderr.write(
            `xlir: stopped at step ${r.steps}; continue with the same command and --resume\n`,
          );
          process.exitCode = 130;
        } else process.stderr.write(`xlir: model written to ${o.output}\n`);
      } finally {
        ctrlC.dispose();
      }
    });
}

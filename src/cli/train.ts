// xlir train: contrastive fine-tuning of a retriever on (query, positive[, negatives]) pairs.
// Ctrl-C finishes the step in flight, saves a checkpoint and exits; --resume continues exactly.

import { Command, Option } from "commander";
import { fineTune } from "../train/fine-tune.ts";
import { lowResourceTable, parseLangWeights, type Weighting } from "../train/lang-weights.ts";
import {
  aggModeOption,
  decimal,
  lowercaseOptions,
  nonNegativeInt,
  positiveInt,
  threadsOption,
} from "./options.ts";
import { stopOnCtrlC } from "./interrupt.ts";
import { progressBar } from "./progress.ts";

function weighting(o: Record<string, string | undefined>): Weighting | undefined {
  const given = [o.langWeights, o.lowResource, o.langWeighting].filter((x) => x !== undefined);
  if (given.length > 1)
    throw new Error("give one of --lang-weights, --low-resource and --lang-weighting, not several");
  if (o.langWeights !== undefined) return { kind: "table", table: parseLangWeights(o.langWeights) };
  if (o.lowResource !== undefined)
    return {
      kind: "table",
      table: lowResourceTable(o.lowResource.split(",").filter(Boolean), Number(o.lowResourceWeight ?? 2)),
    };
  if (o.langWeighting === "inverse-frequency") return { kind: "inverse-frequency" };
  if (o.langWeighting === "loss-based") return { kind: "loss-based" };
  return undefined;
}

/** Validation figures as one line: overall, then per language. */
function valLine(e: Record<string, number>): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const langs = Object.keys(e)
    .filter((k) => k.startsWith("mrr."))
    .map((k) => `${k.slice(4)} ${pct(e[k])}`);
  return `step ${e.step}: validation MRR ${pct(e.mrr)} R@1 ${pct(e.r1)} R@5 ${pct(e.r5)} R@10 ${pct(e.r10)}  (MRR ${langs.join(", ")})`;
}

export function trainCommand(): Command {
  const [lowercase, noLowercase] = lowercaseOptions();
  return new Command("train")
    .description(
      "fine-tune a retriever on query/passage pairs (InfoNCE, weighted InfoNCE, triplet; Aggretriever loss for Aggretriever models; MaxSim InfoNCE for ColBERT(-XM))",
    )
    .requiredOption(
      "--model <id-or-dir>",
      "BERT / XLM-R / sentence-transformers checkpoint, an NLLB-E5 folder, an Aggretriever folder, a ColBERT(-XM) folder, or a masked LM with --head agg",
    )
    .addOption(
      new Option(
        "--head <kind>",
        "what the model is trained as: auto (by the folder; an Aggretriever or ColBERT folder trains as one), agg (Aggretriever; a masked LM such as xlm-roberta-base gets fresh heads) or colbert (a ColBERT(-XM) folder: MaxSim InfoNCE, X-MOD adapters frozen)",
      )
        .choices(["auto", "agg", "colbert"])
        .default("auto"),
    )
    .addOption(aggModeOption())
    .option(
      "--agg-vocab <file>",
      "Aggretriever, --agg-mode target: the training language's token set (JSON with an ids array, from xlir agg-vocab)",
    )
    .addOption(lowercase)
    .addOption(noLowercase)
    .option(
      "--semantic-dim <n>",
      "Aggretriever from a masked LM: [CLS] projection width (default 128)",
      positiveInt,
    )
    .option("--agg-dim <n>", "Aggretriever from a masked LM: agg* width (default 640)", positiveInt)
    .requiredOption(
      "--data <files...>",
      "pairs: JSONL (query, positive, negatives, lang; SWIM-IR rows) or TSV",
    )
    .requiredOption("--output <dir>", "model folder to write (training state goes to <dir>/training)")
    .addOption(
      new Option(
        "--loss <loss>",
        "training loss (default infonce; Aggretriever models: aggretriever, the only one they take)",
      ).choices(["infonce", "weighted-infonce", "triplet", "aggretriever"]),
    )
    .option("--lang-weights <list>", "weighted-infonce: per-language weights, e.g. sw=2,te=2 (others 1)")
    .option(
      "--low-resource <langs>",
      "weighted-infonce: languages that get --low-resource-weight, e.g. bn,sw,te,th",
    )
    .option("--low-resource-weight <x>", "weight of the --low-resource languages", decimal({ above: 0 }), 2)
    .addOption(
      new Option("--lang-weighting <rule>", "weighted-infonce: weights from the data").choices([
        "inverse-frequency",
        "loss-based",
      ]),
    )
    .addOption(new Option("--similarity <s>", "InfoNCE similarity (default cos)").choices(["cos", "dot"]))
    .option(
      "--temperature <x>",
      "InfoNCE temperature (scale = 1/temperature; default 0.05, ColBERT 1 as colbert-ai)",
      decimal({ above: 0 }),
    )
    .option("--symmetric", "InfoNCE: also rank queries for each positive (mean of both directions)")
    .addOption(
      new Option(
        "--in-batch <mode>",
        "InfoNCE's use of the batch: shared (one cross-entropy over every text of the batch; default), none (own positive and hard negatives only) or separate (colbert-ai's use_ib_negatives: both terms; ColBERT default from artifact.metadata)",
      ).choices(["shared", "none", "separate"]),
    )
    .addOption(
      new Option("--distance <d>", "triplet distance (default euclidean)").choices(["euclidean", "cosine"]),
    )
    .option("--margin <x>", "triplet margin (default 5 euclidean, 0.1 cosine)", decimal({ min: 0 }))
    .option(
      "--trainable <set>",
      "full, last:N (default last:1) or lora; NLLB-E5 folders: lora (projection + LoRA); Aggretriever: full (default), heads, last:N or lora, the heads always train; ColBERT: full (default), heads, last:N or lora, the projection always trains, X-MOD embeddings and adapters never",
    )
    .option("--lora-r <n>", "LoRA rank", positiveInt, 32)
    .option("--lora-alpha <n>", "LoRA alpha", decimal({ above: 0 }), 64)
    .option("--lora-dropout <x>", "LoRA dropout", decimal({ min: 0, max: 0.99 }), 0.05)
    .option(
      "--negatives <n>",
      "hard negatives per example (default: as many as every example has; Aggretriever: at most 7, the paper's)",
      nonNegativeInt,
    )
    .option("--epochs <n>", "passes over the training pairs", positiveInt, 3)
    .option("--steps <n>", "optimizer steps (overrides --epochs)", positiveInt)
    .option(
      "--batch-size <n>",
      "pairs per micro-batch (in-batch negatives; default 128, Aggretriever 8)",
      positiveInt,
    )
    .option("--grad-accum <n>", "micro-batches per optimizer step", positiveInt, 1)
    .option(
      "--grad-cache <rows>",
      "GradCache: embed the batch in chunks of this many texts (bounded memory)",
      positiveInt,
    )
    .option(
      "--lr <x>",
      "peak learning rate (default 3e-5, triplet 1e-5, Aggretriever 5e-6, ColBERT 3e-6)",
      decimal({ above: 0 }),
    )
    .option("--warmup-steps <n>", "linear warmup steps (default 10% of the steps)", nonNegativeInt)
    .option("--weight-decay <x>", "AdamW weight decay (default 0.01, Aggretriever 0)", decimal({ min: 0 }))
    .option(
      "--max-grad-norm <x>",
      "clip gradients to this global norm (0: no clipping; default 1, ColBERT 2 as colbert-ai)",
      decimal({ min: 0 }),
    )
    .option(
      "--max-length <n>",
      "tokens per text (ColBERT: artifact.metadata's query_maxlen / doc_maxlen)",
      positiveInt,
    )
    .option(
      "--val-split <x>",
      "fraction held out for validation, stratified by language",
      decimal({ min: 0, max: 0.9 }),
      0.1,
    )
    .option("--val <files...>", "validation pairs (instead of --val-split)")
    .option("--eval-every <n>", "validation interval in steps (default steps/10)", positiveInt)
    .option("--checkpoint-every <n>", "checkpoint interval in steps", positiveInt, 200)
    .option("--lang <code>", "language of rows that carry none (auto: detected)")
    .option("--seed <n>", "random seed", nonNegativeInt, 42)
    .addOption(threadsOption())
    .option("--resume", "continue the checkpoint in <output>/training", false)
    .option("--json", "print progress as JSON lines")
    .action(async (o) => {
      const ctrlC = stopOnCtrlC();
      let bar: ReturnType<typeof progressBar> = () => {};
      let batchSize = 0;
      const started = Date.now();
      try {
        const r = await fineTune(
          {
            model: o.model,
            data: o.data,
            output: o.output,
            head: o.head,
            agg: {
              mode: o.aggMode,
              vocab: o.aggVocab,
              lowercase: o.lowercase,
              semanticDim: o.semanticDim,
              aggDim: o.aggDim,
            },
            loss: o.loss,
            weighting: weighting(o),
            similarity: o.similarity,
            temperature: o.temperature,
            symmetric: o.symmetric,
            inBatch: o.inBatch,
            distance: o.distance,
            margin: o.margin,
            trainable: o.trainable,
            lora: { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout },
            negatives: o.negatives,
            epochs: o.epochs,
            steps: o.steps,
            batchSize: o.batchSize,
            gradAccum: o.gradAccum,
            gradCache: o.gradCache,
            lr: o.lr,
            warmupSteps: o.warmupSteps,
            weightDecay: o.weightDecay,
            maxGradNorm: o.maxGradNorm,
            maxLength: o.maxLength,
            valSplit: o.valSplit,
            val: o.val,
            evalEvery: o.evalEvery,
            checkpointEvery: o.checkpointEvery,
            lang: o.lang,
            seed: o.seed,
            threads: o.threads,
            resume: o.resume,
          },
          {
            onStart: (s) => {
              batchSize = s.batchSize;
              const line = `xlir: ${s.train} training pairs, ${s.val} validation, ${s.steps} steps, training ${s.trainable}`;
              if (o.json) console.log(JSON.stringify({ start: s }));
              else {
                process.stderr.write(line + "\n");
                if (s.langWeights)
                  process.stderr.write(
                    `xlir: language weights ${Object.entries(s.langWeights)
                      .map(([l, w]) => `${l}=${+w.toFixed(3)}`)
                      .join(" ")}\n`,
                  );
                bar = progressBar("training", s.steps);
              }
            },
            onStep: (s) => {
              if (o.json) return console.log(JSON.stringify(s));
              const rate = (s.step * batchSize * o.gradAccum) / ((Date.now() - started) / 1000);
              bar(
                s.step,
                undefined,
                `loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} ${rate.toFixed(1)} ex/s`,
              );
            },
            onEval: (e) =>
              o.json ? console.log(JSON.stringify(e)) : process.stderr.write(`\n${valLine(e)}\n`),
            shouldStop: ctrlC.stopped,
          },
        );
        if (r.interrupted) {
          process.stderr.write(
            `xlir: stopped at step ${r.steps}; continue with the same command and --resume\n`,
          );
          process.exitCode = 130;
        } else
          process.stderr.write(
            `xlir: model written to ${o.output}${r.evals.length ? ` (best validation MRR at step ${r.bestStep})` : ""}\n`,
          );
      } finally {
        ctrlC.dispose();
      }
    });
}

// xlir search: one query against a collection; ranked documents with their best passage, as text
// for people or JSON lines (--json) for programs.

import { Command, Option } from "commander";
import { Collection } from "../index/collection.ts";
import { parseDocScore } from "../index/doc-score.ts";
import { encoderSpec } from "../index/collection.ts";
import { checkSameEncoder } from "../index/manifest.ts";
import { search, type SearchHit } from "../index/search.ts";
import { Encoder } from "../encode/encoder.ts";
import { dtypeOption } from "./options.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function searchCommand(): Command {
  return new Command("search")
    .description("search a collection with a query in any language")
    .argument("<collection>", "collection name")
    .argument("<query>", "the query text")
    .option("--lang <code>", 'language of the query: an NLLB-200 code or alias, or "auto" to detect', "auto")
    .addOption(
      new Option(
        "--mode <mode>",
        "dense vectors, BM25, or both fused (default: dense, or bm25 for lexical collections)",
      ).choices(["dense", "bm25", "hybrid"]),
    )
    .option("--k <n>", "how many documents", (v) => parseInt(v, 10), 10)
    .option(
      "--filter <cond>",
      "FIELD=V1,V2 or FIELD!=V on lang or a metadata field; repeatable (all must hold)",
      collect,
      [],
    )
    .addOption(
      new Option("--fusion <how>", "hybrid fusion: reciprocal rank (k 60) or weighted min-max scores")
        .choices(["rrf", "weighted"])
        .default("rrf"),
    )
    .option("--weight <w>", "weighted fusion: weight of the dense scores (BM25 gets 1 - w)", parseFloat, 0.5)
    .option(
      "--doc-score <how>",
      "document score from its chunks: max, sum or sum:K (default: the collection's)",
    )
    .option("--exact", "exact dense search even when the collection has an ANN index")
    .option("--ann", "dense search through the ANN index")
    .option("--nprobes <n>", "ANN: IVF partitions to probe", (v) => parseInt(v, 10))
    .option("--refine-factor <n>", "ANN: candidates re-ranked exactly, as a multiple of k", (v) =>
      parseInt(v, 10),
    )
    .option("--model <id-or-dir>", "check the query encoder (default: the collection's own)")
    .option("--threads <n>", "CPU threads (default: all cores)", (v) => parseInt(v, 10))
    .addOption(dtypeOption("the one the collection was built with"))
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .option("--json", "one JSON object per result line")
    .action(async (name: string, query: string, o) => {
      if (o.exact && o.ann) throw new Error("--exact and --ann contradict each other: give one");
      const col = await Collection.open(name, { home: o.home });
      let enc: Encoder | null = null;
      try {
        const mode = o.mode ?? (col.dense ? "dense" : "bm25");
        if (o.model) {
          if (o.model === "bm25") checkSameEncoder(name, col.manifest.encoder, { kind: "bm25" }, "search");
          else {
            const built = col.manifest.encoder;
            const dtype = o.dtype ?? (built.kind === "dense" ? built.dtype : undefined);
            enc = await Encoder.load(o.model, { threads: o.threads, dtype });
            const spec = encoderSpec(enc, built.kind === "dense" ? built.revision : null);
            checkSameEncoder(name, built, spec, "search");
            col.useEncoder(enc);
          }
        } else if (mode !== "bm25" && col.dense) await col.encoder({ threads: o.threads, dtype: o.dtype });
        const hits = await search(col, query, {
          mode,
          k: o.k,
          lang: o.lang,
          filter: o.filter,
          fusion: o.fusion,
          weight: o.weight,
          docScore: o.docScore ? parseDocScore(o.docScore) : undefined,
          ann: o.exact ? false : o.ann ? true : "auto",
          nprobes: o.nprobes,
          refineFactor: o.refineFactor,
        });
        if (o.json) for (const h of hits) process.stdout.write(JSON.stringify(h) + "\n");
        else process.stdout.write(formatHits(hits, query));
      } finally {
        await col.close();
        await enc?.close();
      }
    });
}

/** Human output: rank, score, id, language, title, then the passage, shortened around the query words. */
export function formatHits(hits: readonly SearchHit[], query: string): string {
  if (hits.length === 0) return "no results\n";
  return (
    hits
      .map((h) => {
        const head = `${String(h.rank).padStart(3)}  ${h.score.toFixed(4)}  ${h.id}  [${h.lang}]${h.title ? `  ${h.title}` : ""}`;
        return `${head}\n     ${snippet(h.text, query)}`;
      })
      .join("\n") + "\n"
  );
}

/** At most ~200 characters of the passage, starting near the first query word it contains. */
export function snippet(text: string, query: string, width = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= width) return flat;
  const lower = flat.toLowerCase();
  const at = query
    .toLowerCase()
    .split(/[\s\p{P}]+/u)
    .filter((w) => w.length > 2)
    .map((w) => lower.indexOf(w))
    .filter((i) => i >= 0)
    .sort((a, b) => a - b)[0];
  const start = at === undefined ? 0 : Math.max(0, Math.min(at - 40, flat.length - width));
  return (start > 0 ? "…" : "") + flat.slice(start, start + width) + (start + width < flat.length ? "…" : "");
}

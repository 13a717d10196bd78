// xlir collections list | info NAME | check NAME [--repair] | delete NAME | copy NAME --to URL|HOME

import { Command } from "commander";
import { checkCollection, formatProblem } from "../index/check.ts";
import { Collection, deleteCollection } from "../index/collection.ts";
import { formatDocScore } from "../index/doc-score.ts";
import { copyCollection } from "../index/copy.ts";
import { listStoreCollections, storeWhere } from "../index/stores.ts";
import { describeEncoder } from "../index/manifest.ts";
import { repairCollection } from "../index/repair.ts";
import { storeOption, threadsOption } from "./options.ts";

export function collectionsCommand(): Command {
  const list = new Command("list")
    .description(
      "list the collections; a damaged one is listed as NAME<TAB>damaged: WHAT, the others still are, " +
        "and the exit code is then 1",
    )
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .addOption(storeOption())
    .option("--json", 'one JSON object per collection ({"name", "error"} for a damaged one)')
    .action(async (o) => {
      const loc = { home: o.home, store: o.store };
      const names = await listStoreCollections(loc);
      if (!o.json && names.length === 0) {
        process.stdout.write(`no collections in ${storeWhere(loc)}\n`);
        return;
      }
      let damaged = 0;
      for (const name of names) {
        let line: string;
        try {
          const col = await Collection.open(name, loc);
          try {
            // the counts come from LanceDB's manifests: look at the files too
            await col.store.verify();
            const docs = await col.store.countDocs();
            const encoder = col.manifest.encoder;
            line = o.json
              ? JSON.stringify({ name, documents: docs, encoder })
              : `${name}\t${docs} documents\t${describeEncoder(encoder)}`;
          } finally {
            await col.close();
          }
        } catch (e) {
          damaged++;
          const error = (e as Error).message;
          line = o.json ? JSON.stringify({ name, error }) : `${name}\tdamaged: ${error}`;
        }
        process.stdout.write(line + "\n");
      }
      if (damaged) process.exitCode = 1;
    });
  const info = new Command("info")
    .description("what a collection holds and how it was built")
    .argument("<collection>", "collection name")
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .addOption(storeOption())
    .option("--json", "as one JSON object")
    .action(async (name: string, o) => {
      const col = await Collection.open(name, { home: o.home, store: o.store });
      try {
        const i = await col.info();
        if (o.json) {
          process.stdout.write(JSON.stringify({ ...i, docScore: formatDocScore(i.docScore) }) + "\n");
          return;
        }
        const langs = Object.entries(i.languages)
          .map(([l, n]) => `${l} ${n}`)
          .join(", ");
        const lines = [
          `name        ${i.name}`,
          `path        ${i.path}`,
          `created     ${i.created}`,
          `encoder     ${describeEncoder(i.encoder)}`,
          `chunking    ${i.chunking ? `${i.chunking.tokens} tokens, overlap ${i.chunking.overlap}` : "one chunk per document"}`,
          `doc score   ${formatDocScore(i.docScore)}`,
          `documents   ${i.documents}`,
          `chunks      ${i.chunks}`,
          `languages   ${langs || "-"}`,
          `ann index   ${i.ann.index ? `${i.ann.index.type} over ${i.ann.index.rows} chunks (${i.ann.index.built})` : `none (built from ${i.ann.threshold} chunks up)`}`,
          `size        ${(i.bytes / 1e6).toFixed(1)} MB`,
        ];
        process.stdout.write(lines.join("\n") + "\n");
      } finally {
        await col.close();
      }
    });
  const check = new Command("check")
    .description(
      "verify a collection end to end (collection.json, every table file and row, orphan chunks, " +
        "documents without chunks, missing vectors, the BM25 file, a stale write lock): one line per " +
        "problem naming the damaged file; exit code 1 when any is found (or, with --repair, is left)",
    )
    .argument("<collection>", "collection name")
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .option(
      "--repair",
      "fix what the data allows: rebuild BM25, drop orphan chunks, re-embed missing vectors, re-chunk " +
        "documents missing chunks, remove a stale lock; says what cannot be repaired",
    )
    .addOption(threadsOption())
    .option("--json", "the report as one JSON object")
    .action(async (name: string, o) => {
      const out = (s: string) => process.stdout.write(s + "\n");
      if (!o.repair) {
        const r = await checkCollection(name, { home: o.home });
        if (o.json) out(JSON.stringify(r));
        else {
          for (const p of r.problems) out(formatProblem(p));
          out(summary(r.name, r.problems.length, r.documents, r.chunks));
        }
        if (r.problems.length) process.exitCode = 1;
        return;
      }
      const r = await repairCollection(name, { home: o.home, encoderOptions: { threads: o.threads } });
      if (o.json) out(JSON.stringify(r));
      else {
        for (const p of r.before.problems) out(formatProblem(p));
        for (const line of r.repaired) out(`repaired: ${line}`);
        for (const line of r.failed) out(`not repaired: ${line}`);
        for (const p of r.after.problems) out(`left: ${formatProblem(p)}`);
        out(summary(r.after.name, r.after.problems.length, r.after.documents, r.after.chunks));
      }
      if (r.after.problems.length) process.exitCode = 1;
    });
  const del = new Command("delete")
    .description("delete a collection and all its files")
    .argument("<collection>", "collection name")
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .addOption(storeOption())
    .action(async (name: string, o) => {
      await deleteCollection(name, { home: o.home, store: o.store });
      process.stdout.write(`deleted collection "${name}"\n`);
    });
  const copy = new Command("copy")
    .description(
      "copy a collection to another store without re-embedding: to PostgreSQL (--to postgres://...), or back to an xlir home (--to DIR)",
    )
    .argument("<collection>", "collection name")
    .requiredOption("--to <url-or-home>", "a postgres:// URL, or an xlir home folder")
    .option("--home <dir>", "xlir home the collection is in (default: $XLIR_HOME or ~/.xlir)")
    .addOption(storeOption())
    .action(async (name: string, o) => {
      const to = /^postgres(ql)?:\/\//.test(o.to) ? { store: o.to } : { home: o.to, store: "" };
      const r = await copyCollection(name, { home: o.home, store: o.store }, to);
      process.stdout.write(
        `copied collection "${name}" (${r.documents} documents, ${r.chunks} chunks) to ${r.to}; build its ANN index there with xlir index ${name} --build-ann\n`,
      );
    });
  return new Command("collections")
    .description("list, describe, check and delete collections")
    .addCommand(list)
    .addCommand(info)
    .addCommand(check)
    .addCommand(del)
    .addCommand(copy);
}

function summary(name: string, problems: number, docs: number | null, chunks: number | null): string {
  if (problems) return `collection "${name}": ${problems} problem(s)`;
  return `collection "${name}" is sound: ${docs} documents, ${chunks} chunks`;
}

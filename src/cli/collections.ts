// xlir collections list | info NAME | delete NAME

import { Command } from "commander";
import { Collection, deleteCollection } from "../index/collection.ts";
import { formatDocScore } from "../index/doc-score.ts";
import { collectionsDir, listCollections } from "../index/home.ts";
import { describeEncoder } from "../index/manifest.ts";

export function collectionsCommand(): Command {
  const list = new Command("list")
    .description("list the collections")
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .option("--json", "one JSON object per collection")
    .action(async (o) => {
      const names = listCollections(o.home);
      if (!o.json && names.length === 0) {
        process.stdout.write(`no collections in ${collectionsDir(o.home)}\n`);
        return;
      }
      for (const name of names) {
        const col = await Collection.open(name, { home: o.home });
        try {
          const docs = await col.store.countDocs();
          if (o.json)
            process.stdout.write(
              JSON.stringify({ name, documents: docs, encoder: col.manifest.encoder }) + "\n",
            );
          else process.stdout.write(`${name}\t${docs} documents\t${describeEncoder(col.manifest.encoder)}\n`);
        } finally {
          await col.close();
        }
      }
    });
  const info = new Command("info")
    .description("what a collection holds and how it was built")
    .argument("<collection>", "collection name")
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .option("--json", "as one JSON object")
    .action(async (name: string, o) => {
      const col = await Collection.open(name, { home: o.home });
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
  const del = new Command("delete")
    .description("delete a collection and all its files")
    .argument("<collection>", "collection name")
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .action((name: string, o) => {
      deleteCollection(name, { home: o.home });
      process.stdout.write(`deleted collection "${name}"\n`);
    });
  return new Command("collections")
    .description("list, describe and delete collections")
    .addCommand(list)
    .addCommand(info)
    .addCommand(del);
}

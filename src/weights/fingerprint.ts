// A model folder's fingerprint: what a collection records so it can tell, later, that the model at
// the same path now has other weights. Cheap on any size of checkpoint: the config files whole,
// and of each safetensors file its size, its header (names, dtypes, shapes, offsets) and a few
// bytes at both ends of every tensor. The header alone would miss a retrained model saved with the
// same shapes; sampling every tensor catches it (training moves the first values of every tensor
// it touches, LoRA merges included) without reading gigabytes.
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { relative } from "node:path";
import { readSafetensorsHeader } from "./safetensors.ts";

/** Bytes hashed at each end of every tensor. */
const SAMPLE = 64;
const VERSION = "xlir-model-fingerprint/1";

export interface FingerprintFiles {
  /** Small JSON files read whole (config.json, nllb_e5.json, ...); absent ones are skipped. */
  configs: readonly string[];
  /** safetensors files; absent ones are skipped. */
  weights: readonly string[];
}

/** "sha256:<hex>" over the files, named relative to `root` (so the same folder always hashes alike). */
export function modelFingerprint(root: string, files: FingerprintFiles): string {
  const h = createHash("sha256").update(VERSION);
  const name = (f: string) => relative(root, f).split("\\").join("/");
  for (const f of files.configs) {
    if (!existsSync(f)) continue;
    h.update(`\0config\0${name(f)}\0`).update(readFileSync(f));
  }
  for (const f of files.weights) {
    if (!existsSync(f)) continue;
    h.update(`\0weights\0${name(f)}\0${statSync(f).size}\0`);
    const header = readSafetensorsHeader(f);
    const fd = openSync(f, "r");
    try {
      h.update(readAt(fd, 0, header.dataStart));
      for (const t of header.tensors) {
        const len = t.end - t.begin;
        const n = Math.min(SAMPLE, len);
        h.update(readAt(fd, header.dataStart + t.begin, n));
        if (len > SAMPLE) h.update(readAt(fd, header.dataStart + t.end - n, n));
      }
    } finally {
      closeSync(fd);
    }
  }
  return `sha256:${h.digest("hex")}`;
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

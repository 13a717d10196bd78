// The model fingerprint a collection records: the same for a copy of a folder, different for any
// change a user could make at the same path (retrained weights of the same shapes, one tensor
// changed, config.json edited), and cheap: it reads the safetensors header and a few bytes of each
// tensor, never whole files.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { writeRandomCheckpoint } from "../../src/models/random.ts";
import { modelFingerprint } from "../../src/weights/fingerprint.ts";
import { readSafetensors, writeSafetensors } from "../../src/weights/safetensors.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-fingerprint-"));
after(() => rmSync(root, { recursive: true, force: true }));
const files = (dir: string) => ({
  configs: [join(dir, "config.json")],
  weights: [join(dir, "model.safetensors")],
});
const fp = (dir: string) => modelFingerprint(dir, files(dir));

test("a copy has the same fingerprint; retrained weights, one changed tensor or a new config do not", () => {
  const a = tinyBertDir({ parent: root, seed: 1 });
  const copy = join(root, "copy");
  cpSync(a, copy, { recursive: true });
  assert.match(fp(a), /^sha256:[0-9a-f]{64}$/);
  assert.equal(fp(copy), fp(a));

  const retrained = join(root, "retrained");
  cpSync(a, retrained, { recursive: true });
  const config = JSON.parse(readFileSync(join(a, "config.json"), "utf8"));
  writeRandomCheckpoint(retrained, config, 2);
  assert.equal(
    statSync(join(retrained, "model.safetensors")).size,
    statSync(join(a, "model.safetensors")).size,
  );
  assert.notEqual(fp(retrained), fp(a));

  // one tensor in the middle of the file nudged (what a LoRA merge into one layer does)
  const nudged = join(root, "nudged");
  cpSync(a, nudged, { recursive: true });
  const tensors = readSafetensors(join(nudged, "model.safetensors"));
  const name = "encoder.layer.1.attention.self.value.weight";
  assert.ok(tensors.has(name));
  tensors.get(name)!.data[0] += 0.5;
  writeSafetensors(join(nudged, "model.safetensors"), tensors, { metadata: { format: "pt" } });
  assert.notEqual(fp(nudged), fp(a));

  const edited = join(root, "edited");
  cpSync(a, edited, { recursive: true });
  writeFileSync(join(edited, "config.json"), JSON.stringify({ ...config, layer_norm_eps: 1e-6 }));
  assert.notEqual(fp(edited), fp(a));
});

// safetensors: byte-exact round trips of the encoder fixtures, the Rust library's own golden bytes,
// half-precision conversions against hand-computed values, and one clear error per kind of damage.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  bf16ToF32,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsFile,
  serializeSafetensors,
  writeSafetensors,
  type WritableTensor,
} from "../../src/weights/safetensors.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const tmp = mkdtempSync(join(tmpdir(), "xlir-safetensors-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const encoders = join(fixturesRoot, "encoders");
const fixtureFiles = existsSync(encoders)
  ? readdirSync(encoders)
      .map((d) => join(encoders, d, "model.safetensors"))
      .filter((p) => existsSync(p))
  : [];

/** A file made of an 8-byte length (default: the header's), the header text, then `data`. */
function rawFile(
  name: string,
  header: string,
  data: Uint8Array = new Uint8Array(0),
  length?: bigint,
): string {
  const h = Buffer.from(header, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length ?? BigInt(h.length));
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat([prefix, h, data]));
  return path;
}

const f32 = (...v: number[]) => new Float32Array(v);

describe("fixtures", () => {
  test("the encoder fixtures are found", () =>
    assert.ok(fixtureFiles.length > 0, `no model.safetensors under ${encoders}`));

  for (const path of fixtureFiles) {
    const name = path.split(/[\\/]/).at(-2)!;
    test(`${name}: header, positioned reads, and a byte-identical rewrite`, () => {
      const original = readFileSync(path);
      const file = SafetensorsFile.open(path);
      try {
        assert.deepEqual(file.metadata, { format: "pt" });
        assert.ok(file.tensors.every((t) => t.dtype === "F32"));
        const names = file.names();
        assert.deepEqual(names, [...names].sort(), "single-dtype files are laid out in name order");

        // A positioned read returns exactly the tensor's bytes.
        const t = file.tensors[Math.floor(file.tensors.length / 2)];
        const raw = file.readRaw(t.name);
        const at = file.dataStart + t.begin;
        assert.deepEqual(Buffer.from(raw.bytes), original.subarray(at, at + t.end - t.begin));
        const tensor = file.read(t.name);
        assert.deepEqual(tensor.dims, t.shape);
        assert.equal(tensor.data[0], original.readFloatLE(at));

        const tensors = new Map<string, WritableTensor>(names.map((n) => [n, file.read(n)]));
        const out = join(tmp, `${name}.safetensors`);
        writeSafetensors(out, tensors, { metadata: file.metadata! });
        assert.ok(readFileSync(out).equals(original), "writeSafetensors reproduces the file byte for byte");
        assert.ok(
          Buffer.from(serializeSafetensors(tensors, { metadata: { format: "pt" } })).equals(original),
        );
      } finally {
        file.close();
      }
    });
  }
});

describe("writer layout matches the Rust library", () => {
  // Golden bytes from the tests of huggingface/safetensors (safetensors/src/tensor.rs).
  test("empty file, with and without metadata", () => {
    assert.deepEqual(
      [...serializeSafetensors({})],
      [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32],
    );
    const withMeta = Buffer.from(serializeSafetensors({}, { metadata: { framework: "pt" } }));
    assert.equal(withMeta.readBigUInt64LE(0), 40n);
    assert.equal(withMeta.subarray(8).toString(), '{"__metadata__":{"framework":"pt"}}     ');
  });

  test("one f32 tensor, header padded with spaces to 8 bytes", () => {
    const out = serializeSafetensors({ attn0: { data: f32(0, 1, 2, 3, 4, 5), dims: [1, 1, 2, 3] } });
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
    assert.equal(Buffer.from(out).readBigUInt64LE(0), 72n);
    assert.equal(Buffer.from(out.subarray(8, 80)).toString(), header);
    assert.deepEqual(new Float32Array(out.slice(80).buffer), f32(0, 1, 2, 3, 4, 5));
  });

  test("tensors sorted by dtype rank descending, then by UTF-8 bytes of the name", () => {
    const path = join(tmp, "mixed.safetensors");
    writeSafetensors(
      path,
      {
        "b.half": { data: f32(1, -2.5), dims: [2], dtype: "F16" },
        "a.brain": { data: f32(3.140625), dims: [1], dtype: "BF16" },
        "z.float": { data: f32(7), dims: [1] },
        "\u{1F600}": { data: f32(8), dims: [] }, // astral: after U+FFFD in UTF-8 order, before in UTF-16
        "\uFFFD": { data: f32(9), dims: [] },
        "pos.ids": { dtype: "I64", dims: [3], bytes: new Uint8Array(new BigInt64Array([0n, 1n, 2n]).buffer) },
      },
      { metadata: { format: "pt", note: 'quote " and \n newline' } },
    );
    const file = SafetensorsFile.open(path);
    try {
      assert.deepEqual(
        file.tensors.map((t) => `${t.name}:${t.dtype}`),
        ["pos.ids:I64", "z.float:F32", "\uFFFD:F32", "\u{1F600}:F32", "a.brain:BF16", "b.half:F16"],
      );
      assert.deepEqual(file.metadata, { format: "pt", note: 'quote " and \n newline' });
      assert.deepEqual(file.read("b.half").data, f32(1, -2.5));
      assert.deepEqual(file.read("a.brain").data, f32(3.140625));
      assert.deepEqual(file.read("\u{1F600}"), { data: f32(8), dims: [] });
      const ids = file.readTyped("pos.ids");
      assert.ok(ids.data instanceof BigInt64Array);
      assert.deepEqual([...ids.data], [0n, 1n, 2n]);
      assert.throws(() => file.read("pos.ids"), /is I64, not a float tensor; use readTyped/);
      assert.throws(() => file.read("nope"), /no tensor named "nope"/);
    } finally {
      file.close();
    }
    assert.equal(readSafetensors(path, ["z.float"]).size, 1);
  });

  test("writer refuses inconsistent input and leaves an existing file alone", () => {
    const path = join(tmp, "keep.safetensors");
    writeSafetensors(path, { a: { data: f32(1), dims: [1] } });
    const before = readFileSync(path);
    assert.throws(
      () => writeSafetensors(path, { a: { data: f32(1, 2), dims: [3] } }),
      /dims \[3\] \(3 values\) but 2/,
    );
    assert.throws(() => writeSafetensors(path, { __metadata__: { data: f32(1), dims: [1] } }), /reserved/);
    assert.ok(readFileSync(path).equals(before));
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.includes(".partial-")),
      [],
    );
  });
});

describe("half precision", () => {
  const h = (...bits: number[]) => new Uint16Array(bits);
  // Hand-computed: 1.0 = 0 01111 0000000000; -2.5 = 1 10000 0100000000; 65504 = max finite;
  // 0x0001 = 2^-24 (smallest subnormal); 0x03ff = 1023 * 2^-24 (largest subnormal); 0x0400 = 2^-14.
  const table: [number, number][] = [
    [0x3c00, 1],
    [0xc100, -2.5],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3555, 0.333251953125],
    [0x8000, -0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];

  test("f16 -> f32 is exact", () => {
    const out = f16ToF32(h(...table.map(([b]) => b)));
    table.forEach(([, v], i) => assert.ok(Object.is(out[i], v), `${table[i][0].toString(16)} -> ${out[i]}`));
    assert.ok(Number.isNaN(f16ToF32(h(0x7e00))[0]));
  });

  test("f32 -> f16 rounds to nearest even", () => {
    assert.deepEqual(
      [...f32ToF16(f32(...table.map(([, v]) => v)))],
      table.map(([b]) => b),
    );
    const cases: [number, number][] = [
      [65519, 0x7bff], // below the halfway point to 65536: stays finite
      [65520, 0x7c00], // halfway, ties to even = infinity
      [1e6, 0x7c00],
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1 + 2^-10: ties to even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // halfway between odd 0x3c01 and 0x3c02: up to even
      [2 ** -25, 0x0000], // exactly half the smallest subnormal: ties to even (zero)
      [1.5 * 2 ** -25, 0x0001],
      [2 ** -26, 0x0000],
      [-(2 ** -24), 0x8001],
      [(1023.5 / 1024) * 2 ** -14, 0x0400], // rounds up from the largest subnormal into the normals
    ];
    assert.deepEqual(
      [...f32ToF16(f32(...cases.map(([v]) => v)))].map((b) => b.toString(16)),
      cases.map(([, b]) => b.toString(16)),
    );
    assert.equal(f32ToF16(f32(NaN))[0] & 0x7e00, 0x7e00);
    // Every f16 value survives f16 -> f32 -> f16.
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let i = 0; i < 65536; i++) {
      if ((i & 0x7c00) === 0x7c00 && i & 0x3ff) continue; // NaNs: checked above
      assert.equal(back[i], i);
    }
  });

  test("bf16 <-> f32", () => {
    // 3.140625 = 0x40490000 exactly, so its bf16 is 0x4049; pi (0x40490fdb) rounds to the same.
    assert.deepEqual(
      bf16ToF32(h(0x4049, 0x3f80, 0xc020, 0x0001, 0x7f80)),
      f32(3.140625, 1, -2.5, 2 ** -133, Infinity),
    );
    assert.deepEqual(
      [...f32ToBf16(f32(Math.PI, 3.140625, 1, -2.5, 2 ** -133))],
      [0x4049, 0x4049, 0x3f80, 0xc020, 0x0001],
    );
    // 1 + 2^-8 is halfway between 1 (0x3f80, even) and 0x3f81: ties to even; 1 + 3 * 2^-8 goes up.
    assert.deepEqual([...f32ToBf16(f32(1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38))], [0x3f80, 0x3f82, 0x7f80]);
    assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(f32(NaN)))[0]));
  });
});

describe("damaged files get one clear error each", () => {
  const tensor = (name: string, dtype: string, shape: number[], offsets: [number, number]) =>
    `"${name}":{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;
  const bytes = (n: number) => new Uint8Array(n);

  test("missing file", () => {
    assert.throws(
      () => SafetensorsFile.open(join(tmp, "absent.safetensors")),
      /absent\.safetensors: safetensors file not found/,
    );
  });

  test("shorter than the 8-byte length", () => {
    const p = join(tmp, "tiny.safetensors");
    writeFileSync(p, Buffer.from([1, 2, 3]));
    assert.throws(() => readSafetensorsHeader(p), /tiny\.safetensors: file is 3 bytes, too short/);
  });

  test("header length larger than the file", () => {
    const p = rawFile("long.safetensors", "{}", bytes(0), 1000n);
    assert.throws(
      () => readSafetensorsHeader(p),
      /long\.safetensors: header length 1000 runs past the end of the 10-byte file/,
    );
  });

  test("corrupted header length (absurdly large)", () => {
    const p = rawFile("huge.safetensors", "{}", bytes(0), 0xffff_ffff_ffffn);
    assert.throws(
      () => readSafetensorsHeader(p),
      /huge\.safetensors: header length \d+ exceeds the 100 MB limit/,
    );
  });

  test("invalid JSON, non-object JSON, invalid UTF-8", () => {
    assert.throws(
      () => readSafetensorsHeader(rawFile("json.safetensors", '{"a":')),
      /json\.safetensors: header is not valid JSON/,
    );
    assert.throws(
      () => readSafetensorsHeader(rawFile("array.safetensors", "[1,2]")),
      /header is not a JSON object/,
    );
    const p = join(tmp, "utf8.safetensors");
    writeFileSync(p, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0xff, 0xfe])]));
    assert.throws(() => readSafetensorsHeader(p), /header is not valid UTF-8/);
  });

  test("unknown dtype names the known ones", () => {
    const p = rawFile("dtype.safetensors", `{${tensor("w", "F7", [2], [0, 8])}}`, bytes(8));
    assert.throws(
      () => readSafetensorsHeader(p),
      /dtype\.safetensors: tensor "w" has unknown dtype "F7"; known dtypes: BOOL, .*BF16/,
    );
  });

  test("offsets out of range (e.g. a truncated file)", () => {
    const p = rawFile("range.safetensors", `{${tensor("w", "F32", [4], [0, 16])}}`, bytes(12));
    assert.throws(
      () => readSafetensorsHeader(p),
      /tensor "w" has data_offsets \[0, 16\] beyond the 12-byte data region/,
    );
    if (fixtureFiles.length) {
      const cut = join(tmp, "cut.safetensors");
      const whole = readFileSync(fixtureFiles[0]);
      writeFileSync(cut, whole.subarray(0, whole.length - 100));
      assert.throws(
        () => SafetensorsFile.open(cut),
        /cut\.safetensors: tensor ".*" has data_offsets .* beyond the/,
      );
    }
  });

  test("offsets that disagree with dtype x shape", () => {
    const p = rawFile("size.safetensors", `{${tensor("w", "F16", [3], [0, 8])}}`, bytes(8));
    assert.throws(
      () => readSafetensorsHeader(p),
      /tensor "w" is F16 \[3\] \(6 bytes\) but its data_offsets \[0, 8\] span 8 bytes/,
    );
  });

  test("overlaps, gaps, reversed offsets, trailing bytes", () => {
    const two = (a: [number, number], b: [number, number], n: number) =>
      rawFile(
        "pair.safetensors",
        `{${tensor("a", "U8", [a[1] - a[0]], a)},${tensor("b", "U8", [b[1] - b[0]], b)}}`,
        bytes(n),
      );
    assert.throws(
      () => readSafetensorsHeader(two([0, 4], [2, 6], 6)),
      /tensor "b" data_offsets \[2, 6\] overlap tensor "a"/,
    );
    assert.throws(() => readSafetensorsHeader(two([0, 4], [6, 8], 8)), /gap of 2 bytes before tensor "b"/);
    assert.throws(() => readSafetensorsHeader(two([0, 4], [4, 6], 9)), /3 bytes after the last tensor/);
    const rev = rawFile("rev.safetensors", `{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, bytes(4));
    assert.throws(() => readSafetensorsHeader(rev), /end before they begin/);
    const meta = rawFile("meta.safetensors", `{"__metadata__":{"n":1}}`);
    assert.throws(() => readSafetensorsHeader(meta), /"__metadata__" value for "n" is not a string/);
  });
});

test("reads one tensor from a file too big to load whole", () => {
  // A 3 GB sparse file: the small tensor comes back without touching (or allocating) the rest.
  const big = 3_000_000_000;
  const header = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[${big}],"data_offsets":[8,${big + 8}]}}`;
  const p = rawFile("sparse.safetensors", header, new Uint8Array(f32(1.5, -2).buffer));
  truncateSync(p, 8 + Buffer.byteLength(header) + 8 + big);
  const file = SafetensorsFile.open(p);
  try {
    assert.deepEqual(file.info("b").shape, [big]);
    assert.deepEqual(file.read("a"), { data: f32(1.5, -2), dims: [2] });
  } finally {
    file.close();
  }
  rmSync(p);
});

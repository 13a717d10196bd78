// The web UI of `xlir serve` in a real (headless) Chromium: search with language badges, term
// highlights, the language filter, the side-by-side comparison, state restored from the URL, RTL
// text, and the API key prompt. One browser for the file; every request must stay on 127.0.0.1.
// XLIR_UI_SCREENSHOT=PATH also saves the comparison view's screenshot there (the README's image).
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { Encoder } from "../../src/encode/encoder.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { startServer, type XlirServer } from "../../src/serve/server.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const CHROMIUM = "/usr/bin/chromium";
const tmp = mkdtempSync(join(tmpdir(), "xlir-serve-ui-"));
const home = join(tmp, "home");
const model = tinyBertDir({ parent: tmp });

// the tiny BERT knows TINY_WORDS only (cat, dog, sat, on, mat, ran, far, big, small): BM25 reads the rest
const DOCS = [
  { id: "en-1", lang: "eng_Latn", title: "Cats", text: "The cat sat on the mat. It did not move all day." },
  { id: "en-2", lang: "eng_Latn", title: null, text: "A big dog ran far across the field." },
  { id: "en-3", lang: "eng_Latn", title: null, text: "The small cat ran far from the big dog." },
  { id: "de-1", lang: "deu_Latn", title: "Katzen", text: "Die kleine cat sat auf der mat. Sie schläft." },
  { id: "de-2", lang: "deu_Latn", title: null, text: "Der big dog ran far über das Feld." },
  { id: "fr-1", lang: "fra_Latn", title: null, text: "Le small cat dort sur le mat du salon." },
  { id: "ar-1", lang: "arb_Arab", title: "قطط", text: "جلست القطة على الحصيرة طوال اليوم. cat mat" },
].map((d) => ({ ...d, title: d.title ?? undefined, source: d.id }));
const LANG = new Map(DOCS.map((d) => [d.id, d.lang]));

let server: XlirServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const requests: string[] = [];

before(async () => {
  const encoder = await Encoder.load(model, { threads: 1, warn: () => {} });
  const col = await Collection.openOrCreate("multi", { home, model: encoder });
  await addDocuments(col, DOCS);
  await col.close();
  await encoder.close();
  server = await startServer({ models: [`tiny=${model}`], home, port: 0, log: () => {} });
  await server.ready;
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  context.on("request", (r) => requests.push(r.url()));
  page = await context.newPage();
  page.on("pageerror", (e) => assert.fail(`error in the page: ${e.message}`));
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const searchesShown = (p: Page) => p.evaluate(() => Number(document.body.dataset.searches ?? 0));

/** Does `action` and waits until the page has shown the search it starts. */
async function searched(p: Page, action: () => Promise<unknown>): Promise<void> {
  const before = await searchesShown(p);
  await action();
  await p.waitForFunction((n) => Number(document.body.dataset.searches ?? 0) > n, before);
}

/** [id, badge text] of each hit in the column (0: left / only, 1: right). */
const hits = (p: Page, column = 0) =>
  p.$$eval(
    `.column:nth-child(${column + 1}) .hit`,
    (els) =>
      els.map((el) => [el.getAttribute("data-id")!, el.querySelector(".badge")!.textContent!]) as [
        string,
        string,
      ][],
  );

it("searches: each hit has its language's badge, and Arabic text runs right to left", async () => {
  await page.goto(`${server.url}/`);
  await page.waitForSelector("#c option[value=multi]", { state: "attached" });
  assert.match((await page.textContent("#models")) ?? "", /tiny/);
  const stats = (await page.textContent("#stats")) ?? "";
  assert.match(stats, /documents\s*7/);
  assert.match(stats, /arb_Arab/);
  await searched(page, async () => {
    await page.fill("#q", "cat sat on the mat");
    await page.press("#q", "Enter");
  });
  const found = await hits(page);
  assert.equal(found.length, DOCS.length);
  for (const [id, badge] of found) assert.equal(badge, LANG.get(id), id);
  // the query was read as English: English hits are same-language, the others cross-language
  const classes = await page.$$eval(".hit", (els) =>
    els.map((el) => [el.getAttribute("data-id"), el.querySelector(".badge")!.className]),
  );
  for (const [id, cls] of classes) assert.match(cls!, id!.startsWith("en-") ? /\bsame\b/ : /\bcross\b/, id!);
  const direction = (id: string) =>
    page.$eval(`.hit[data-id="${id}"] .text`, (el) => getComputedStyle(el).direction);
  assert.equal(await direction("ar-1"), "rtl");
  assert.equal(await direction("en-1"), "ltr");
  // the histogram counts the hits per language
  assert.equal(await page.textContent(".histogram .bar-row[data-lang=deu_Latn] .n"), "2");
});

it("highlights the query's terms in a BM25 search, and explains the score", async () => {
  await searched(page, () => page.selectOption("#mode", "bm25"));
  const marks = await page.$$eval("mark.term", (els) => els.map((el) => el.textContent!.toLowerCase()));
  assert.ok(marks.length > 0, "no <mark class=term>");
  for (const m of marks) assert.ok(["cat", "sat", "on", "the", "mat"].includes(m), m);
  const rows = await page.$$eval(".hit:first-child .explain table tbody tr", (els) => els.length);
  assert.ok(rows > 0, "no BM25 term table in the explain panel");
});

it("filters by language", async () => {
  await searched(page, () => page.check("#lang-filter input[value=deu_Latn]"));
  const found = await hits(page);
  assert.ok(found.length > 0);
  for (const [id, badge] of found) assert.equal(badge, "deu_Latn", id);
  await searched(page, () => page.uncheck("#lang-filter input[value=deu_Latn]"));
  assert.equal((await hits(page)).length, 5); // BM25: the documents with a query word
});

it("compares two configurations side by side, with rank changes and overlap@10", async () => {
  await searched(page, () => page.selectOption("#mode", "dense"));
  await searched(page, () => page.check("#compare")); // B starts as the same collection in hybrid mode
  assert.equal(await page.inputValue("#mode2"), "hybrid");
  const [left, right] = [await hits(page, 0), await hits(page, 1)];
  assert.ok(left.length > 0 && right.length > 0);
  assert.deepEqual(await page.$$eval(".column-label", (els) => els.map((el) => el.textContent)), [
    "multi · dense",
    "multi · hybrid (rrf)",
  ]);
  const shared = left.slice(0, 10).filter(([id]) => right.slice(0, 10).some(([r]) => r === id)).length;
  assert.match(
    (await page.textContent("#overlap")) ?? "",
    new RegExp(`overlap@10: ${(shared / 10).toFixed(2)}`),
  );
  // every hit says where it stands in the other column
  const deltas = await page.$$eval(".column:nth-child(1) .hit .delta", (els) =>
    els.map((el) => el.textContent),
  );
  assert.equal(deltas.length, left.length);
  for (const d of deltas) assert.match(d!, /^(↑\d+|↓\d+|=|new)$/);
  const rightIds = right.map(([id]) => id);
  for (const [i, [id]] of left.entries()) {
    const j = rightIds.indexOf(id);
    const want = j < 0 ? "new" : j === i ? "=" : j > i ? `↑${j - i}` : `↓${i - j}`;
    assert.equal(deltas[i], want, id);
  }
  // an open explain panel for the picture
  await page.click(".column:nth-child(2) .hit:first-child .explain summary");
  const shot = join(tmp, "ui.png");
  await page.screenshot({ path: shot, fullPage: true });
  if (process.env.XLIR_UI_SCREENSHOT) copyFileSync(shot, process.env.XLIR_UI_SCREENSHOT);
});

it("restores the search from the URL, query box direction included", async () => {
  const url = page.url();
  for (const part of ["q=cat+sat+on+the+mat", "c=multi", "mode=dense", "c2=multi", "mode2=hybrid"])
    assert.ok(url.includes(part), `${part} not in ${url}`);
  const other = await context.newPage();
  await other.goto(url);
  await other.waitForFunction(() => Number(document.body.dataset.searches ?? 0) > 0);
  assert.equal(await other.inputValue("#q"), "cat sat on the mat");
  assert.ok(await other.isChecked("#compare"));
  assert.deepEqual(await hits(other, 0), await hits(page, 0));
  assert.deepEqual(await hits(other, 1), await hits(page, 1));
  // a hand-written link: lexical search for Arabic words, German and Arabic documents only
  await other.goto(
    `${server.url}/?q=${encodeURIComponent("القطة cat")}&c=multi&mode=bm25&f=deu_Latn,arb_Arab`,
  );
  await other.waitForFunction(() => Number(document.body.dataset.searches ?? 0) > 0);
  assert.equal(await other.$eval("#q", (el) => getComputedStyle(el).direction), "rtl");
  assert.ok(await other.isChecked("#lang-filter input[value=arb_Arab]"));
  assert.ok(!(await other.isChecked("#lang-filter input[value=eng_Latn]")));
  const found = await hits(other);
  assert.ok(found.some(([id]) => id === "ar-1"));
  for (const [id, badge] of found) assert.ok(["deu_Latn", "arb_Arab"].includes(badge), id);
  await other.close();
});

it("shows documents as text, never as HTML", async () => {
  const title = `<img src="x" onerror="document.body.dataset.xss = 'img'">`;
  const text = `cat </p><script>document.body.dataset.xss = "script"</script> & mat`;
  const res = await fetch(`${server.url}/collections/multi/documents`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([{ id: "x-1", lang: "eng_Latn", title, text }]),
  });
  assert.equal(res.status, 200, await res.text());
  const p = await context.newPage();
  await p.goto(`${server.url}/?q=cat&c=multi&mode=bm25&f=eng_Latn`);
  await p.waitForFunction(() => Number(document.body.dataset.searches ?? 0) > 0);
  assert.equal(await p.textContent('.hit[data-id="x-1"] .title'), title);
  const shown = (await p.textContent('.hit[data-id="x-1"] .text')) ?? ""; // its best chunk
  assert.ok(shown.includes("<script>") && text.startsWith(shown), shown);
  assert.equal(await p.$$eval(".hit img, .hit script", (els) => els.length), 0);
  assert.equal(await p.evaluate(() => document.body.dataset.xss), undefined);
  await p.close();
});

it("asks for the API key when the server has keys", async () => {
  const locked = await startServer({
    models: [`tiny=${model}`],
    home,
    port: 0,
    log: () => {},
    apiKeys: ["k1"],
  });
  try {
    await locked.ready;
    const p = await context.newPage();
    await p.goto(`${locked.url}/?q=cat&c=multi&mode=bm25`);
    await p.waitForSelector("#alert:not([hidden])");
    assert.match((await p.textContent("#alert")) ?? "", /missing API key/);
    assert.equal(await p.evaluate(() => document.activeElement?.id), "key");
    await p.fill("#key", "nope");
    await p.press("#key", "Enter");
    await p.waitForFunction(() => /wrong API key/.test(document.getElementById("alert")!.textContent!));
    await searched(p, async () => {
      await p.fill("#key", "k1");
      await p.press("#key", "Enter");
    });
    assert.ok(await p.isHidden("#alert"));
    assert.ok((await hits(p)).length > 0);
    assert.equal(await p.evaluate(() => localStorage.getItem("xlir.apiKey")), "k1");
    await p.close();
  } finally {
    await locked.close();
  }
});

it("made no request off 127.0.0.1", () => {
  assert.ok(requests.length > 10);
  const away = requests.filter((u) => !u.startsWith("http://127.0.0.1:") && !u.startsWith("data:"));
  assert.deepEqual(away, []);
});

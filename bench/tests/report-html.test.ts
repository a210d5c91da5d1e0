import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { writeReport } from "../report/write-report.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROMIUM);
const TITLE = "loads without console errors, shows its charts, and is not blank";
const work = mkdtempSync(join(tmpdir(), "qwen3-bench-html-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("report.html in headless Chromium", () => {
  it.skipIf(!HAS_CHROMIUM)(HAS_CHROMIUM ? TITLE : `${TITLE} — SKIPPED: ${CHROMIUM} is absent (apt-get install -y chromium)`, async () => {
    cpSync(join(FIXTURES_DIR, "results-sample", "run"), work, { recursive: true });
    await writeReport(work);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("requestfailed", (request) => problems.push(`request failed: ${request.url().slice(0, 80)}`));
      await page.goto(pathToFileURL(join(work, "report.html")).href, { waitUntil: "load" });

      const images = await page.$$eval("img", (imgs) => imgs.map((img) => ({ complete: img.complete, width: img.naturalWidth, height: img.naturalHeight, alt: img.alt })));
      expect(images).toHaveLength(4);
      for (const image of images) {
        expect(image.complete).toBe(true);
        expect(image.width).toBeGreaterThan(0);
        expect(image.height).toBeGreaterThan(0);
        expect(image.alt).not.toBe("");
      }
      expect(await page.locator("h1").textContent()).toBe("qwen3-bench report");
      expect(await page.locator("table").count()).toBeGreaterThanOrEqual(5);

      // Count the screenshot's distinct colours with the browser's own PNG decoder (a canvas).
      await page.locator("figure img").first().scrollIntoViewIfNeeded();
      const screenshot = (await page.screenshot({ fullPage: false })).toString("base64");
      const colours = await page.evaluate(async (base64) => {
        const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${base64}`)).blob());
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext("2d")!;
        context.drawImage(bitmap, 0, 0);
        const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < pixels.length && seen.size < 1000; i += 4 * 7) seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
        return seen.size;
      }, screenshot);
      expect(colours).toBeGreaterThan(20);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { burnBinary } from "../harness/setup/burn-build.ts";

// scripts/gpu-probe.py is how runner variants are timed on a GPU host (one device call, no second
// chance): check here, on the CPU runner, that it drives a runner, compares tokens between
// variants, and reports a variant that cannot start without stopping the others.
const work = mkdtempSync(join(tmpdir(), "qwen3-bench-probe-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Runs where the Burn CPU runner is built; CI requires it (BENCH_REQUIRE), so there it cannot skip.
const burnRequired = (process.env.BENCH_REQUIRE ?? "").split(",").includes("burn-cpu");

describe.skipIf(!existsSync(burnBinary()) && !burnRequired)("scripts/gpu-probe.py", () => {
  test("times variants over the protocol, compares their tokens, and survives a broken one", async () => {
    const variants = join(work, "variants.txt");
    writeFileSync(
      variants,
      [
        `explicit=QWEN3_BURN_STEP_TIMES=1 ${burnBinary()} --model {model} --backend cpu --dtype f32`,
        `burn-attention=${burnBinary()} --model {model} --backend cpu --dtype f32 --attention burn`,
        `missing=${join(work, "no-such-runner")} --model {model}`,
      ].join("\n"),
    );
    const out = join(work, "out");
    const args = ["scripts/gpu-probe.py", "--model", TEST_MODELS.tiny, "--variants", variants, "--out", out, "--tokens", "8", "--requests", "2"];
    const result = await execa("python3", args, { cwd: REPO_ROOT, reject: false });
    expect(result.exitCode).toBe(0);
    const probe = JSON.parse(readFileSync(join(out, "probe.json"), "utf8"));
    const [explicit, burn, missing] = probe.results;
    expect(explicit.decode_tok_s).toHaveLength(2);
    expect(explicit.median_decode_tok_s).toBeGreaterThan(0);
    expect(explicit.ready.backend).toBe("cpu");
    expect(explicit.stderr_tail.join("\n")).toMatch(/8 tokens: build [0-9.]+ ms\/token, read [0-9.]+ ms\/token/);
    expect(burn.tokens).toEqual(explicit.tokens);
    expect(missing.error).toMatch(/FileNotFoundError/);
    // The table printed last names every variant, and the second agrees with the first.
    const table = result.stdout.slice(result.stdout.lastIndexOf("variant"));
    expect(table).toMatch(/burn-attention\s+\S+\s+\S+\s+\S+\s+same/);
    expect(table).toMatch(/missing .*FileNotFoundError/);
  });
});

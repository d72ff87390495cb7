import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Builds the test-only harness pages (never part of the production build) into a temp folder
 * and returns it. Built, not served by a dev server: the browser runs what a user would get.
 */
export async function buildHarness(pages: string[]): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), "silk-harness-"));
  await build({
    root: join(here, "harness"),
    logLevel: "warn",
    build: {
      outDir,
      emptyOutDir: true,
      chunkSizeWarningLimit: 10_000,
      rollupOptions: { input: Object.fromEntries(pages.map((p) => [p, join(here, "harness", `${p}.html`)])) },
    },
    worker: { format: "es" },
  });
  return outDir;
}

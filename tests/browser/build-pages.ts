import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");

/**
 * Builds the production pages with the project's own vite.config.ts (pages, then the widget
 * library) into a temp folder, as `npm run build` would into dist/. With `testEngine`, the provider
 * page's one engine module is swapped for the scripted test engine: a test-only build that never
 * leaves the test run.
 */
export async function buildPages(opts: { testEngine?: boolean } = {}): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), opts.testEngine ? "silk-pages-test-" : "silk-pages-"));
  const plugins = opts.testEngine ? [swapEngineSource()] : [];
  const configFile = join(root, "vite.config.ts");
  await build({ configFile, logLevel: "error", plugins, build: { outDir, emptyOutDir: true } });
  await build({
    configFile,
    mode: "widget",
    logLevel: "error",
    build: { outDir: join(outDir, "widget"), emptyOutDir: false },
  });
  return outDir;
}

function swapEngineSource(): Plugin {
  const testSource = join(here, "pages/scripted-engine-source.ts");
  return {
    name: "silk-test-engine-source",
    enforce: "pre",
    async resolveId(source, importer, options) {
      if (!importer || !source.endsWith("/engine-source")) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved?.id.endsWith("web/engines/engine-source.ts") ? testSource : null;
    },
  };
}

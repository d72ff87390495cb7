/**
 * `npm run bench -- widget-size`: builds the widget as `npm run build` does (vite.config.ts, mode
 * "widget") and prints the gzip size of its first download (the entry and every chunk it imports
 * statically) and of what it loads lazily (the wallet), next to the bare Svelte runtime mounting
 * one component, built the same way, as the baseline.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "vite";
import { printTable } from "./table";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

interface Sizes {
  firstRaw: number;
  firstGzip: number;
  lazyRaw: number;
  lazyGzip: number;
  files: number;
}

/** Follows static `import … from "./x.js"` (and bare `import "./x.js"`) from the entry; the rest is lazy. */
function measure(dir: string, entry: string): Sizes {
  const files = readdirSync(dir).filter((f) => f.endsWith(".js"));
  const first = new Set<string>();
  const visit = (file: string) => {
    if (first.has(file)) return;
    first.add(file);
    const code = readFileSync(join(dir, file), "utf8");
    for (const m of code.matchAll(
      /(?<![\w$.])(?:import|export)\s*(?:[^"'()]*?from\s*)?["']\.\/([^"']+\.js)["']/g,
    ))
      visit(m[1]!);
  };
  visit(entry);
  const size = (f: string) => {
    const bytes = readFileSync(join(dir, f));
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  const sum = (list: string[]) =>
    list.map(size).reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip }), { raw: 0, gzip: 0 });
  const f = sum([...first]);
  const l = sum(files.filter((x) => !first.has(x)));
  return { firstRaw: f.raw, firstGzip: f.gzip, lazyRaw: l.raw, lazyGzip: l.gzip, files: files.length };
}

async function buildLib(entry: string | undefined, outDir: string): Promise<void> {
  await build({
    configFile: join(root, "vite.config.ts"),
    mode: "widget",
    logLevel: "error",
    build: {
      outDir,
      emptyOutDir: true,
      ...(entry && { lib: { entry, formats: ["es"], fileName: () => "silk-chat.js" } }),
    },
  });
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;

export default async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "silk-widget-size-"));
  try {
    const widgetDir = join(work, "widget");
    const baseDir = join(work, "baseline");
    await buildLib(undefined, widgetDir);
    await buildLib(join(here, "fixtures/svelte-baseline.ts"), baseDir);
    const widget = measure(widgetDir, "silk-chat.js");
    const base = measure(baseDir, "silk-chat.js");
    const row = (name: string, s: Sizes) => ({
      build: name,
      "first download": kb(s.firstRaw),
      "first, gzip": kb(s.firstGzip),
      "lazy (wallet)": kb(s.lazyRaw),
      "lazy, gzip": kb(s.lazyGzip),
      "× baseline (gzip)": (s.firstGzip / base.firstGzip).toFixed(1),
    });
    printTable("Widget size (vite build --mode widget, minified)", [
      row("bare Svelte 5 runtime + 1 component (baseline)", base),
      row("<silk-chat> widget", widget),
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

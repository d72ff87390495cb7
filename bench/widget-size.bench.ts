/**
 * `npm run bench -- widget-size`: builds the widget as `npm run build` does (vite.config.ts, mode
 * "widget") and prints the gzip size of its first download (the entry and every chunk it imports
 * statically) and of what it loads lazily: the connection stack and Markdown right after mount,
 * code highlighting and math the first time an answer holds them, the wallet when its panel opens. Next to it, in the same run: the bare Svelte runtime mounting one
 * component (the baseline), the widget with the connection stack and Markdown imported eagerly (as
 * it was before they were split off), and the provider page with WebLLM lazy and eager (its storage
 * and chain code, `page-core.ts`, are a lazy chunk fetched right after mount). Then the
 * heaviest packages in each part, as a bundle visualiser would show them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "vite";
import {
  type ChunkGraph,
  entryChunk,
  heaviest,
  lazyGroup,
  recordChunks,
  sizeOf,
  staticClosure,
} from "./bundle-graph";
import { printTable } from "./table";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

async function buildWidget(entry: string | undefined, outDir: string): Promise<ChunkGraph> {
  const graph: ChunkGraph = new Map();
  await build({
    configFile: join(root, "vite.config.ts"),
    mode: "widget",
    logLevel: "error",
    plugins: [recordChunks(graph)],
    build: {
      outDir,
      emptyOutDir: true,
      ...(entry && { lib: { entry, formats: ["es"], fileName: () => "silk-chat.js" } }),
    },
  });
  return graph;
}

/** The pages build; `eagerWebLlm` imports WebLLM in the provider page's entry, as it was before. */
async function buildPages(outDir: string, eagerWebLlm: boolean): Promise<ChunkGraph> {
  const graph: ChunkGraph = new Map();
  const eager: Plugin = {
    name: "silk-bench-eager-webllm",
    transform(code, id) {
      return id.endsWith("provider/page/main.ts") ? `import "@mlc-ai/web-llm";\n${code}` : null;
    },
  };
  await build({
    configFile: join(root, "vite.config.ts"),
    logLevel: "error",
    plugins: [recordChunks(graph), ...(eagerWebLlm ? [eager] : [])],
    build: { outDir, emptyOutDir: true },
  });
  return graph;
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;

interface Row {
  first: { raw: number; gzip: number };
  lazy: Record<string, Set<string>>;
  graph: ChunkGraph;
  firstFiles: Set<string>;
}

/** First download from `entry`, then what each lazy import (by module path suffix) adds, in order. */
function measure(graph: ChunkGraph, entry: string, lazy: Record<string, string[]>): Row {
  const firstFiles = staticClosure(graph, entryChunk(graph, entry).fileName);
  const loaded = new Set(firstFiles);
  const groups: Record<string, Set<string>> = {};
  const stops = Object.values(lazy).flat();
  for (const [name, suffixes] of Object.entries(lazy)) {
    groups[name] = new Set(suffixes.flatMap((s) => [...lazyGroup(graph, s, loaded, stops)]));
  }
  return { first: sizeOf(graph, firstFiles), lazy: groups, graph, firstFiles };
}

const WIDGET_LAZY = {
  "connection stack": ["client/web/chat-core.ts"],
  Markdown: ["client/web/markdown.ts", "client/web/components/MarkdownBody.svelte"],
  "code highlighting": ["client/web/code-highlight.ts"],
  math: ["client/web/math-render.ts"],
  wallet: ["web/tonconnect-wallet.ts"],
  // Local-first (issue 16): fetched only to check whether this device can run the chosen model.
  "local engine": ["web/engines/engine-source.ts"],
};

export default async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "silk-widget-size-"));
  try {
    const base = measure(
      await buildWidget(join(here, "fixtures/svelte-baseline.ts"), join(work, "b")),
      "svelte-baseline.ts",
      {},
    );
    const widget = measure(
      await buildWidget(undefined, join(work, "w")),
      "client/widget/index.ts",
      WIDGET_LAZY,
    );
    const eager = measure(
      await buildWidget(join(here, "fixtures/widget-eager.ts"), join(work, "e")),
      "fixtures/widget-eager.ts",
      { wallet: WIDGET_LAZY.wallet },
    );
    const provider = measure(await buildPages(join(work, "p"), false), "provider/index.html", {
      "page core": ["provider/page/page-core.ts"],
      WebLLM: ["web/engines/webllm-engine.browser.ts"],
    });
    const providerEager = measure(await buildPages(join(work, "pe"), true), "provider/index.html", {});

    const lazyCol = (r: Row, name: string) => {
      const files = r.lazy[name];
      return files ? kb(sizeOf(r.graph, files).gzip) : "–";
    };
    const row = (name: string, r: Row) => ({
      build: name,
      "first download": kb(r.first.raw),
      "first, gzip": kb(r.first.gzip),
      "× baseline": (r.first.gzip / base.first.gzip).toFixed(1),
      "lazy: connection, gzip": lazyCol(r, "connection stack"),
      "lazy: local engine, gzip": lazyCol(r, "local engine"),
      "lazy: Markdown, gzip": lazyCol(r, "Markdown"),
      "lazy: code, gzip": lazyCol(r, "code highlighting"),
      "lazy: math, gzip": lazyCol(r, "math"),
      "lazy: wallet, gzip": lazyCol(r, "wallet"),
      "lazy: page core, gzip": lazyCol(r, "page core"),
      "lazy: WebLLM, gzip": lazyCol(r, "WebLLM"),
    });
    printTable(
      "First download and lazy chunks (vite build, minified; lazy columns count shared chunks once)",
      [
        row("bare Svelte 5 runtime + 1 component (baseline)", base),
        row("<silk-chat>, connection stack and Markdown eager (before)", eager),
        row("<silk-chat> widget", widget),
        row("provider page, WebLLM in the first download (before)", providerEager),
        row("provider page", provider),
      ],
    );

    const parts: [string, Row, Set<string>][] = [
      ["widget: first download", widget, widget.firstFiles],
      ...Object.entries(widget.lazy).map(([n, files]): [string, Row, Set<string>] => [
        `widget: ${n}`,
        widget,
        files,
      ]),
      ["provider page: first download", provider, provider.firstFiles],
    ];
    console.log("\nHeaviest packages per part (rendered size before minification)");
    for (const [name, r, files] of parts) {
      const list = heaviest(r.graph, files, root, 6).map((p) => `${p.name} ${kb(p.bytes)}`);
      console.log(`${name.padEnd(30)}  ${list.join(", ")}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

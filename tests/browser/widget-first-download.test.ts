import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChunkGraph,
  entryChunk,
  modulesIn,
  packageOf,
  recordChunks,
  sizeOf,
  staticClosure,
} from "../../bench/bundle-graph";

/**
 * The widget as `npm run build` makes it (vite.config.ts, mode "widget"): what a page fetches for
 * the one script tag before the widget runs is the element and its chat shell; the connection
 * stack, Markdown and the wallet are lazy chunks.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const graph: ChunkGraph = new Map();
let outDir: string;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), "silk-widget-graph-"));
  // Vitest sets NODE_ENV=test, which makes Vite bundle Svelte's development build: measure what
  // `npm run build` ships instead (the same build `npm run bench -- widget-size` measures).
  const env = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    await build({
      configFile: join(root, "vite.config.ts"),
      mode: "widget",
      logLevel: "error",
      plugins: [recordChunks(graph)],
      build: { outDir, emptyOutDir: true },
    });
  } finally {
    process.env.NODE_ENV = env;
  }
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const LAZY_ONLY = [
  "socket.io-client",
  "engine.io-client",
  "simple-peer",
  "readable-stream",
  "buffer",
  "@ton/core",
  "@ton/crypto",
  "@noble/curves",
  "@noble/hashes",
  "@noble/ciphers",
  "valibot",
  "marked",
  "dompurify",
  "highlight.js",
  "katex",
  "@tonconnect/ui",
  "@tonconnect/sdk",
];

describe("the widget's first download", () => {
  it("is the element and its chat shell, without the connection stack, Markdown or the wallet", () => {
    const entry = entryChunk(graph, "client/widget/index.ts");
    expect(entry.fileName).toBe("silk-chat.js");
    const first = staticClosure(graph, entry.fileName);
    const packages = new Set(modulesIn(graph, first).map((id) => packageOf(id, root)));
    expect(packages).toContain("svelte");
    expect(packages).toContain("client/widget/index.ts");
    expect(LAZY_ONLY.filter((p) => packages.has(p))).toEqual([]);
    expect(packages).not.toContain("client/sdk/silk-client.ts");
    expect(packages).not.toContain("peer/browser-globals.ts");
    // Issue 15's bound: no larger than the 27.9 kB gzip (summed per chunk) it was before the chat
    // features; anything new in the shell loads lazily. Sessions had raised it by 508 bytes in small
    // stated steps (to 29,078; the shell was 29,065); a turn's view (MessageView, with its edit,
    // stats and versions imports and its styles) is now a chunk ChatView fetches as it mounts (the
    // first paint has no turns: a stored chat comes with the connection stack), 29,065 -> 27,961;
    // the model list (ModelSelect: the <select>, its labels and Svelte's select binding) is a chunk
    // ModelPicker fetches as it mounts (there are models only once the connection stack has read
    // the directory), 27,961 -> 27,706. The bound is 27,900 bytes, so both readings of issue 15's
    // 27.9 kB are met: 27,900 bytes, and 27.9 × 1,024 = 28,570 bytes. What says a lazy part could
    // not load, with Try again (LazyPart.svelte, for MessageView and ModelSelect), is in the shell:
    // a failed chunk cannot say it failed; 27,702 -> 27,871. Inside Telegram, scrolling to the focus
    // only when the keyboard's opening may hide a text field, 27,871 -> 27,900; bound unchanged.
    // Svelte's runtime modules are marked free of load-time effects (vite.config.ts), so its list
    // block leaves with the only shell component that used it, the turns' loop (now TurnList.svelte,
    // lazy with MessageView): 27,898 -> 26,420, and the bound follows what is measured. Try again
    // keeps its sentence (busy) until the fetch settles and moves the focus only if the reader left
    // it there (lazy-focus.ts), the sentence and button laid out side by side: 26,420 -> 26,797.
    // Every other lazy part (chat settings, introduction, background notice, wallet panel, who
    // answered) goes through LazyPart too, so the shell no longer has Svelte's {#await} block:
    // 26,797 -> 26,475. Parts failing together (the server gone) are told apart (each Try again
    // described by its sentence) and one Try again fetches them all: 26,475 -> 26,562 (+87).
    // The shell names its lazy chunks by their content hashes, so a change in any of them (the SDK
    // alone, b0685bc) moves the shell's gzip by a few bytes: 26,562 -> 26,566 with no shell change.
    // A bound at exactly the measure failed for changes outside the shell; it leaves 34 bytes for
    // that noise (26,566 measured), so a real addition still shows at once.
    expect(sizeOf(graph, first).gzip).toBeLessThanOrEqual(26_600);
  });

  it("loads the connection stack, Markdown, code highlighting, math, the wallet, the turns' view and the model list as lazy chunks of their own", () => {
    const first = staticClosure(graph, "silk-chat.js");
    for (const lazy of [
      "client/web/chat-core.ts",
      "client/web/markdown.ts",
      "client/web/code-highlight.ts",
      "client/web/math-render.ts",
      "web/tonconnect-wallet.ts",
      "client/web/components/TurnList.svelte",
      "client/web/components/ModelSelect.svelte",
    ]) {
      const chunk = [...graph.values()].find((c) => c.facadeModuleId?.endsWith(lazy));
      expect(chunk, lazy).toBeDefined();
      expect(first.has(chunk!.fileName), lazy).toBe(false);
    }
    const lazyPackages = new Set(
      modulesIn(
        graph,
        [...graph.keys()].filter((f) => !first.has(f)),
      ).map((id) => packageOf(id, root)),
    );
    for (const p of [
      "socket.io-client",
      "simple-peer",
      "@ton/core",
      "@noble/curves",
      "marked",
      "dompurify",
      "highlight.js",
      "katex",
    ]) {
      expect(lazyPackages, p).toContain(p);
    }
  });
});

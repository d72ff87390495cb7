import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

/**
 * Builds every page into dist/, which the signaling server serves (`STATIC_DIR=dist`):
 *   client/index.html          → /            (the web client)
 *   provider/index.html        → /provider    (the provider page)
 *   client/widget/demo.html    → /widget/demo.html (the widget embedded in a page)
 * and, with `--mode widget`, the widget as one ES module for a single script tag:
 *   dist/widget/silk-chat.js   (the element and its chat shell; the connection stack and Markdown
 *                              are chunks it imports right after mount, the wallet when asked)
 * The widget is an ES module rather than an IIFE because an IIFE cannot load chunks lazily: the
 * connection stack and the wallet would be in every first download. Its chunks are imported
 * relative to silk-chat.js, so a page of any origin can embed it (the server sends them with CORS).
 */
const root = dirname(fileURLToPath(import.meta.url));
/**
 * `@ton/core` and `@ton/ton` use Node's global `Buffer` as they load. Chunks shared between the
 * pages (and the lazily loaded chain code) may load before the entry's `browser-globals`, so every
 * free `Buffer` is rewritten to an import of the `buffer` package instead of relying on load order.
 */
const transform = { inject: { Buffer: ["buffer", "Buffer"] as [string, string] } };
/**
 * Svelte declares no `sideEffects`, so a bundler must assume every module of its runtime does
 * something as it loads, and keeps every module its barrel (`svelte/internal/client`) re-exports in
 * the chunk that imports the barrel: the widget's first download carried the list block (`each.js`,
 * 10.8 kB before minifying) though only lazy chunks use it. None of them does (their top level is
 * declarations) but the version stamp, the mode flags and the custom-element base class, which stay
 * as they are. The widget's first download: 27,898 -> 26,420 bytes gzip with TurnList.svelte.
 */
const treeshake = {
  moduleSideEffects: (id: string) =>
    !/\/node_modules\/svelte\/src\//.test(id) || /disclose-version|\/flags\/|custom-element/.test(id),
};

export default defineConfig(({ mode }) => ({
  root,
  publicDir: join(root, "web/public"),
  // Svelte styles are injected by the components: the widget's land in its shadow root.
  plugins: [svelte({ compilerOptions: { css: "injected" } })],
  worker: { format: "es" as const },
  build:
    mode === "widget"
      ? {
          outDir: join(root, "dist/widget"),
          emptyOutDir: false,
          copyPublicDir: false,
          // Library builds keep whitespace by default; the widget is shipped as is, so minify it.
          minify: true,
          rolldownOptions: {
            // Everything the entry imports statically is one chunk, one gzip stream: split in four
            // (the runtime shared with lazy chunks, two small shared modules), each compressed
            // alone, it was 0.8 kB more on the wire.
            output: {
              minify: true,
              codeSplitting: { groups: [{ name: "shell", tags: ["$initial" as const] }] },
            },
            transform,
            treeshake,
          },
          chunkSizeWarningLimit: 10_000,
          lib: {
            entry: join(root, "client/widget/index.ts"),
            formats: ["es" as const],
            fileName: () => "silk-chat.js",
          },
        }
      : {
          outDir: join(root, "dist"),
          emptyOutDir: true,
          chunkSizeWarningLimit: 10_000,
          rolldownOptions: {
            transform,
            treeshake,
            input: {
              client: join(root, "client/index.html"),
              provider: join(root, "provider/index.html"),
              widget: join(root, "client/widget/demo.html"),
            },
          },
        },
}));

import type { Component } from "svelte";

/**
 * Markdown rendering (marked + DOMPurify, `markdown.ts`) and the component that shows it with its
 * styles (`MarkdownBody.svelte`) are a lazy chunk: the chat shell renders without them, and
 * `ChatStore.init` loads them with the rest of the chat before any answer is shown. Until they are
 * here, `markdownRenderer()` is undefined and answers are shown as plain text.
 */
export interface MarkdownView {
  readonly render: (text: string) => string;
  readonly Body: Component<{ html: string; live: boolean }>;
}

let view = $state.raw<MarkdownView | undefined>();
let loading: Promise<void> | undefined;

export function loadMarkdown(): Promise<void> {
  loading ??= Promise.all([import("./markdown"), import("./components/MarkdownBody.svelte")]).then(
    ([m, { default: Body }]) => {
      view = { render: m.renderMarkdown, Body };
      // Highlighting or math arrived (lazy chunks of their own): a new function renders every answer again.
      m.onExtras(() => {
        view = { render: (text) => m.renderMarkdown(text), Body };
      });
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/** The renderer once loaded (reactive: components re-render when it arrives). */
export function markdownRenderer(): MarkdownView | undefined {
  return view;
}

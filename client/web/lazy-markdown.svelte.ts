/**
 * Markdown rendering (marked + DOMPurify, `markdown.ts`) is a lazy chunk: the chat shell renders
 * without it, and `ChatStore.init` loads it with the rest of the chat before any answer is shown.
 * Until it is here, `markdownRenderer()` is undefined and answers are shown as plain text.
 */
let renderer = $state<((text: string) => string) | undefined>();
let loading: Promise<void> | undefined;

export function loadMarkdown(): Promise<void> {
  loading ??= import("./markdown").then(
    (m) => {
      renderer = m.renderMarkdown;
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/** The renderer once loaded (reactive: components re-render when it arrives). */
export function markdownRenderer(): ((text: string) => string) | undefined {
  return renderer;
}

import DOMPurify from "dompurify";
import { Marked, type TokenizerAndRendererExtension } from "marked";

/**
 * Answers are Markdown from a stranger's machine: parsed by marked, then sanitised by DOMPurify
 * before they touch the DOM. Raw HTML in an answer is shown as text, never run; links open in a
 * new tab without an opener. Code highlighting (highlight.js) and LaTeX (KaTeX) are lazy chunks of
 * their own, fetched the first time an answer needs them: until then code is plain and math shows
 * its source; `onExtras` tells the page to render again once one has arrived.
 */
type Highlight = typeof import("./code-highlight");
type Math = typeof import("./math-render");
let highlight: Highlight | undefined;
let math: Math | undefined;
let wanted = { highlight: false, math: false };
const listeners = new Set<() => void>();

/** Called whenever highlighting or math rendering has loaded (answers then render again). */
export function onExtras(listener: () => void): void {
  listeners.add(listener);
}

function want(what: "highlight" | "math"): void {
  if (wanted[what]) return;
  wanted = { ...wanted, [what]: true };
  const load = what === "highlight" ? import("./code-highlight") : import("./math-render");
  load.then(
    (m) => {
      if (what === "highlight") highlight = m as Highlight;
      else math = m as Math;
      for (const l of listeners) l();
    },
    () => {
      // Offline or blocked: answers stay readable (plain code, TeX source); the next answer retries.
      wanted = { ...wanted, [what]: false };
    },
  );
}

function tex(source: string, display: boolean): string {
  if (!math) {
    want("math");
    return `<code class="math-source">${escapeHtml(display ? `$$${source}$$` : `$${source}$`)}</code>`;
  }
  return math.renderTex(source, display);
}

/** `$$…$$` and `\[…\]` on their own, `$…$` and `\(…\)` inline (a `$` before a digit is money, not math). */
const mathExtensions: TokenizerAndRendererExtension[] = [
  {
    name: "mathBlock",
    level: "block",
    start: (src) => src.match(/\$\$|\\\[/)?.index,
    tokenizer(src) {
      const m = /^(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\])[ \t]*(?:\n|$)/.exec(src);
      if (m) return { type: "mathBlock", raw: m[0], text: (m[1] ?? m[2] ?? "").trim() };
      return undefined;
    },
    renderer: (token) => `<div class="math-block">${tex(token.text as string, true)}</div>`,
  },
  {
    name: "mathInline",
    level: "inline",
    start: (src) => src.match(/\$|\\\(/)?.index,
    tokenizer(src) {
      const m = /^(?:\$(?![\s$])((?:\\.|[^\\$\n])+?)(?<!\s)\$(?!\d)|\\\((.+?)\\\))/.exec(src);
      if (m) return { type: "mathInline", raw: m[0], text: m[1] ?? m[2] ?? "" };
      return undefined;
    },
    renderer: (token) => tex(token.text as string, false),
  },
];

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
  extensions: mathExtensions,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    // Task lists: the form controls marked makes are removed by the sanitiser, so the state is a glyph.
    checkbox({ checked }) {
      return checked
        ? '<span class="task" role="img" aria-label="done">☑</span> '
        : '<span class="task" role="img" aria-label="not done">☐</span> ';
    },
    code({ text, lang }) {
      const language = lang?.trim().split(/\s+/)[0]?.toLowerCase() || undefined;
      if (!highlight) want("highlight");
      const html = highlight?.highlightCode(text, language);
      const cls = `hljs${language ? ` language-${escapeHtml(language)}` : ""}`;
      return `<pre><code class="${cls}">${html ?? escapeHtml(text)}</code></pre>\n`;
    },
  },
});

let hooked = false;

export function renderMarkdown(text: string): string {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
    hooked = true;
  }
  const html = marked.parse(text) as string;
  return DOMPurify.sanitize(html, {
    // MathML for KaTeX's output; DOMPurify checks its namespaces as it does HTML's.
    USE_PROFILES: { html: true, mathMl: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "img", "iframe"],
    FORBID_ATTR: ["style"],
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// LaTeX in answers, rendered by KaTeX as MathML (which the browser lays out itself: no KaTeX
// stylesheet or fonts to fetch). A lazy chunk that `markdown.ts` fetches the first time an answer
// holds math.
import katex from "katex";

/** MathML for `tex`; a TeX error shows the source in red rather than throwing. */
export function renderTex(tex: string, display: boolean): string {
  // `trust: false` (the default): \href, \url and \includegraphics from a stranger are not honoured.
  return katex.renderToString(tex, {
    displayMode: display,
    output: "mathml",
    throwOnError: false,
    trust: false,
  });
}

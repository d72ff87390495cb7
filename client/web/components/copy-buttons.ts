/**
 * Svelte action: gives every code block in the rendered answer a header, as chat apps do: its
 * language ("ts", from the fence; the band above the code was blank) and a "Copy" button. Re-run when
 * the HTML changes (its parameter); skipped while the answer still streams.
 */
export function copyButtons(node: HTMLElement, html: { html: string; live: boolean }) {
  const apply = (p: { live: boolean }) => {
    if (p.live) return;
    for (const pre of node.querySelectorAll("pre")) {
      if (pre.querySelector(".copy")) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy secondary";
      // The visible text is the accessible name (WCAG 2.5.3).
      button.textContent = "Copy code";
      // Each press restarts the 2 s: an earlier press's reset would clear a later "Copied" early.
      let reset: ReturnType<typeof setTimeout> | undefined;
      button.addEventListener("click", () => {
        clearTimeout(reset);
        const code = pre.querySelector("code")?.textContent ?? "";
        void navigator.clipboard?.writeText(code).then(
          () => {
            // Back to "Copy code" after 2 s, as chat apps' copy buttons revert (a failure stays).
            button.textContent = "Copied";
            clearTimeout(reset);
            reset = setTimeout(() => {
              if (button.textContent === "Copied") button.textContent = "Copy code";
            }, 2000);
          },
          () => {
            button.textContent = "Copy failed";
          },
        );
      });
      pre.prepend(button);
      // `markdown.ts` names the fence's language in the code's class (`language-ts`); text, never HTML.
      const language = /(?:^|\s)language-(\S+)/.exec(pre.querySelector("code")?.className ?? "")?.[1];
      if (language) {
        const label = document.createElement("span");
        label.className = "lang";
        label.textContent = language;
        pre.prepend(label);
      }
    }
  };
  queueMicrotask(() => apply(html));
  return { update: (p: { html: string; live: boolean }) => queueMicrotask(() => apply(p)) };
}

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * "The focus is nowhere" (on nothing, the page itself, or the widget's host with nothing inside it)
 * decides whether a page may move the focus after a button left or went off. It was written three
 * times (holdFocus, keepFocusIn, the provider's Load), each a little differently: Load's missed the
 * document element, keepFocusIn's the widget's shadow root. One owner, `focusIsNowhere` in
 * web/hold-focus.ts; the pages ask it.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|svelte)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

describe("whether the focus is nowhere", () => {
  it("is decided in one place, web/hold-focus.ts", () => {
    const checks = ["client", "web", "provider/page"]
      .flatMap(sources)
      .flatMap((file) =>
        [
          ...readFileSync(join(root, file), "utf8").matchAll(/[!=]==\s*document\.(body|documentElement)\b/g),
        ].map(() => file),
      );
    expect(new Set(checks)).toEqual(new Set(["web/hold-focus.ts"]));
    expect(checks.length).toBe(2);
  });
});

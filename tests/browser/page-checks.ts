import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
/** Screenshots land here (gitignored). */
export const RESULTS_DIR = join(here, "../../test-results");
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: true });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** Runs axe-core (WCAG 2 A/AA rules) on the page, shadow roots included; returns serious and critical violations. */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  return (await a11yViolations(page)).filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Every axe-core violation (WCAG 2 A/AA and best practices), of any impact. */
export async function a11yViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: axePath });
  const violations = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<unknown> } }).axe;
    const result = (await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    })) as {
      violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
    };
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => JSON.stringify(n.target)),
    }));
  })) as AxeViolation[];
  return violations;
}

export async function openReady(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 30_000 });
}

/**
 * Visible controls (buttons, selects, text fields, summaries; shadow roots included) shorter than
 * the 44 px a finger needs, as "tag “name” WxH". Checkboxes are left out: their label is the target.
 */
export function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const visit = (root: Document | ShadowRoot) => {
      for (const el of root.querySelectorAll<HTMLElement>("*")) {
        if (el.shadowRoot) visit(el.shadowRoot);
        if (
          !el.matches(
            "button, select, textarea, summary, input:not([type=checkbox], [type=radio], [type=file])",
          )
        )
          continue;
        const box = el.getBoundingClientRect();
        if (box.width === 0 || el.closest("[inert]") || getComputedStyle(el).visibility === "hidden")
          continue;
        if (box.height < 43.5)
          found.push(
            `${el.tagName} “${(el.textContent || el.getAttribute("aria-label") || "").trim().slice(0, 30)}” ${Math.round(box.width)}x${Math.round(box.height)}`,
          );
      }
    };
    visit(document);
    return found;
  });
}

/** The lowest contrast ratio (WCAG) of any text field's placeholder against the field's background; axe does not check placeholders. */
export function placeholderContrast(page: Page): Promise<number> {
  return page.evaluate(() => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
    const lum = (c: string) => {
      const [r, g, b] = rgb(c).map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    let lowest = 21;
    const visit = (root: Document | ShadowRoot) => {
      for (const el of root.querySelectorAll<HTMLElement>("*")) {
        if (el.shadowRoot) visit(el.shadowRoot);
        if (!el.matches("[placeholder]") || el.getBoundingClientRect().width === 0) continue;
        const [a, b] = [
          lum(getComputedStyle(el, "::placeholder").color),
          lum(getComputedStyle(el).backgroundColor),
        ];
        lowest = Math.min(lowest, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05));
      }
    };
    visit(document);
    return lowest;
  });
}

/**
 * The page at the reader's own text size (`percent` of the browser's default, as a browser's
 * "font size" setting or a phone's larger text sets it): what sticks out past the viewport's right
 * edge (shadow roots included; fixed sheets and what is inert or scrolls inside itself aside), as
 * "tag.class right", and the page's sideways scroll. The size is restored after.
 */
export async function atTextSize(page: Page, percent: number): Promise<{ sideways: number; past: string[] }> {
  await page.evaluate((p) => {
    document.documentElement.style.fontSize = `${p}%`;
  }, percent);
  try {
    return await page.evaluate(() => {
      const past: string[] = [];
      // Code, tables and math scroll sideways inside themselves on purpose; anything else is held to
      // the right edge of what clips it (a scrolling panel, a sheet), or of the screen.
      const edge = (el: HTMLElement): number | undefined => {
        for (let e = el.parentElement; e && e !== document.documentElement; e = e.parentElement) {
          // Inside a table, code or math block, or what is visually hidden (a 1 px box).
          if (e.matches("pre, table, .math-block") || e.getBoundingClientRect().width <= 1) return undefined;
          if (getComputedStyle(e).overflowX !== "visible")
            return Math.min(e.getBoundingClientRect().right, innerWidth);
        }
        return innerWidth;
      };
      const visit = (root: Document | ShadowRoot) => {
        for (const el of root.querySelectorAll<HTMLElement>("*")) {
          if (el.shadowRoot) visit(el.shadowRoot);
          const box = el.getBoundingClientRect();
          if (box.width <= 1 || el.closest("[inert]")) continue;
          const right = edge(el);
          if (right !== undefined && box.right > right + 0.5) {
            past.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(box.right)}`);
          }
        }
      };
      visit(document);
      return { sideways: document.documentElement.scrollWidth - innerWidth, past };
    });
  } finally {
    await page.evaluate(() => {
      document.documentElement.style.fontSize = "";
    });
  }
}

import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";

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

/** The widget's demo page (`url` is the server's) in a fresh 360x740 dark context, the widget ready. */
export async function openWidgetPhone(browser: Browser, url: string): Promise<Page> {
  const page = await (
    await browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: "dark" })
  ).newPage();
  page.on("pageerror", (e) => console.error("widget page error:", e.message));
  await page.goto(`${url}/widget/`);
  await page.waitForSelector("silk-chat[data-ready=true]", { state: "attached", timeout: 30_000 });
  return page;
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

/**
 * Punctuation left alone at the start of a line ("." under an address that wrapped), as the text of
 * the block it is in: a reader sees a stray mark. Text nodes of only punctuation are checked.
 */
export function strandedPunctuation(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const mark = (node.textContent ?? "").trim();
      if (!/^[.,;:!?)]+$/.test(mark)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const rect = [...range.getClientRects()].find((r) => r.width > 0);
      if (!rect) continue;
      let block = node.parentElement;
      while (block && getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
      if (!block) continue;
      const left =
        block.getBoundingClientRect().left + Number.parseFloat(getComputedStyle(block).paddingLeft);
      if (rect.left <= left + 2)
        found.push((block.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 80));
    }
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

/**
 * Walks the page by Tab alone, as a keyboard user does, up to `steps` stops (or until focus comes
 * back round), and says what they would trip on at each stop, as "tag “name”: problem": focus
 * that does not show (no outline, no shadow) or whose ring has under 3:1 contrast against what is
 * behind it (WCAG 1.4.11), a stop off the screen's sides or hidden under
 * something else (a sticky bar, a sheet), a stop without a name.
 * Shadow roots (the widget) are walked into. Returns the stops' names in order too.
 */
export async function keyboardWalk(page: Page, steps = 60): Promise<{ stops: string[]; problems: string[] }> {
  // Tab goes on from wherever focus was last: start it from the page's top instead.
  await page.evaluate(() => {
    const start = document.createElement("span");
    start.tabIndex = -1;
    start.id = "keyboard-walk-start";
    document.body.prepend(start);
    start.focus();
  });
  const stops: string[] = [];
  const problems: string[] = [];
  let first: string | undefined;
  let lost: string | undefined;
  for (let i = 0; i < steps; i++) {
    await page.keyboard.press("Tab");
    if (i === 0) await page.evaluate(() => document.getElementById("keyboard-walk-start")?.remove());
    const stop = await page.evaluate(() => {
      let el = document.activeElement as HTMLElement | null;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
      if (!el || el === document.body) return undefined;
      const labelled = el.getAttribute("aria-labelledby");
      const root = el.getRootNode() as Document | ShadowRoot;
      const name = (
        el.getAttribute("aria-label") ??
        (labelled ? root.getElementById?.(labelled)?.textContent : undefined) ??
        ((el as HTMLInputElement).labels?.[0]?.textContent || undefined) ??
        (el.textContent?.trim() || undefined) ??
        el.getAttribute("title") ??
        el.getAttribute("placeholder") ??
        ""
      )
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, 60);
      const style = getComputedStyle(el);
      const outlined = style.outlineStyle !== "none" && Number.parseFloat(style.outlineWidth) >= 1;
      const shows = outlined || style.boxShadow !== "none";
      // The ring against what is behind it (the nearest painted background around the control).
      const lum = (c: string) => {
        const [r, g, b] = (c.match(/[\d.]+/g) ?? ["0", "0", "0"]).slice(0, 3).map((v) => {
          const x = Number(v) / 255;
          return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      let behind = "rgb(255, 255, 255)";
      for (let e: Element | null = el.parentElement ?? (el.getRootNode() as ShadowRoot).host; e; ) {
        const bg = getComputedStyle(e).backgroundColor;
        if (bg && !/rgba\(.*, 0\)$|transparent/.test(bg)) {
          behind = bg;
          break;
        }
        e = e.parentElement ?? ((e.getRootNode() as ShadowRoot).host || null);
      }
      const [a, z] = [lum(style.outlineColor), lum(behind)];
      const ring = outlined ? (Math.max(a, z) + 0.05) / (Math.min(a, z) + 0.05) : 21;
      const box = el.getBoundingClientRect();
      const cx = Math.min(Math.max(box.left + box.width / 2, 0), innerWidth - 1);
      const cy = Math.min(Math.max(box.top + box.height / 2, 0), innerHeight - 1);
      let top = root.elementFromPoint?.(cx, cy) ?? null;
      while (top?.shadowRoot) {
        const inner = top.shadowRoot.elementFromPoint(cx, cy);
        if (!inner || inner === top) break;
        top = inner;
      }
      const inView = box.bottom > 0 && box.top < innerHeight;
      return {
        id: `${el.tagName.toLowerCase()} “${name}”`,
        named: name.length > 0,
        shows,
        ring: Math.round(ring * 10) / 10,
        // Past a side, or the page itself scrolled sideways to show it.
        sideways: box.left < -1 || box.right > innerWidth + 1 || scrollX > 0,
        covered: inView && box.width > 1 && !!top && top !== el && !el.contains(top) && !top.contains(el),
        coveredBy: top ? `${top.tagName.toLowerCase()}.${String(top.className)}` : "",
      };
    });
    // Past the last stop focus leaves for the browser's own controls, then comes round to the
    // first: the walk is done. Focus on the page itself anywhere else is focus lost mid-walk.
    if (!stop) {
      if (stops.length > 0) lost = stops.at(-1);
      continue;
    }
    if (stop.id === first) break;
    if (lost !== undefined) problems.push(`after ${lost}: focus went to the page itself, then to ${stop.id}`);
    lost = undefined;
    first ??= stop.id;
    stops.push(stop.id);
    if (!stop.named) problems.push(`${stop.id}: no name`);
    if (!stop.shows) problems.push(`${stop.id}: focus does not show`);
    else if (stop.ring < 3) problems.push(`${stop.id}: focus ring contrast ${stop.ring}:1, under 3:1`);
    if (stop.sideways) problems.push(`${stop.id}: off the screen's side`);
    if (stop.covered) problems.push(`${stop.id}: hidden under ${stop.coveredBy}`);
  }
  return { stops, problems };
}

/**
 * Presses the button named `name` and says why it is greyed out right after: the text its
 * aria-describedby points to while it is off. A watcher set before the press catches the off state
 * however short it is (a devnet confirms a wallet's message at once), where polling after the press
 * could miss it on a loaded machine. Throws when the button is not seen off within `timeoutMs`.
 */
export async function offReasonOnPress(
  page: Page,
  name: string,
  timeoutMs = 30_000,
): Promise<{ why: string }> {
  const button = page.getByRole("button", { name, exact: true });
  const handle = await button.elementHandle({ timeout: timeoutMs });
  const watch = await handle.evaluateHandle((el) => {
    const b = el as HTMLButtonElement;
    const root = b.getRootNode() as Document | ShadowRoot;
    const why = () =>
      (b.getAttribute("aria-describedby") ?? "")
        .split(/\s+/)
        .map((id) => (id ? root.getElementById(id) : null))
        .filter((r): r is HTMLElement => !!r && r.getClientRects().length > 0)
        .map((r) => (r.textContent ?? "").replace(/\s+/g, " ").trim())
        .join(" ");
    const box: { seen: Promise<{ why: string }> } = { seen: Promise.resolve({ why: "" }) };
    box.seen = new Promise((resolve) => {
      let last: string | undefined;
      const look = () => {
        if (b.disabled) last = why();
        // Off with its reason shown, or back on after being off (with whatever it said then).
        if ((b.disabled && last) || (!b.disabled && last !== undefined)) {
          observer.disconnect();
          resolve({ why: last });
        }
      };
      const observer = new MutationObserver(look);
      observer.observe(root, { subtree: true, attributes: true, childList: true, characterData: true });
    });
    return box;
  });
  await button.click({ timeout: timeoutMs });
  return await watch.evaluate(
    (box, ms) =>
      Promise.race([
        box.seen,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`the button was not seen off within ${ms} ms of its press`)), ms),
        ),
      ]),
    timeoutMs,
  );
}

/**
 * Waits (within `timeoutMs`, checking every frame) for the button named `name` to be greyed out,
 * and says what it says then: the visible text its aria-describedby points to ("" when none).
 */
export async function offReason(page: Page, name: string, timeoutMs = 30_000): Promise<{ why: string }> {
  const button = await page.getByRole("button", { name, exact: true }).elementHandle({ timeout: timeoutMs });
  const off = await page.waitForFunction(
    (el) => {
      const b = el as HTMLButtonElement;
      if (!b.isConnected || !b.disabled) return false;
      const root = b.getRootNode() as Document | ShadowRoot;
      const why = (b.getAttribute("aria-describedby") ?? "")
        .split(/\s+/)
        .map((id) => (id ? root.getElementById(id) : null))
        .filter((r): r is HTMLElement => !!r && r.getClientRects().length > 0)
        .map((r) => (r.textContent ?? "").replace(/\s+/g, " ").trim())
        .join(" ");
      return { why };
    },
    button,
    { polling: "raf", timeout: timeoutMs },
  );
  return (await off.jsonValue()) as { why: string };
}

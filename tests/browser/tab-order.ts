import type { Page } from "playwright-core";

/** One Tab stop: what it is called and where it sits on the page (document coordinates). */
export interface TabStop {
  name: string;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * Presses Tab from the top of the page until focus leaves the page or comes back to the first
 * stop (at most `max` presses), and returns each focused element with its box. Shadow roots are
 * followed to the element that has focus.
 */
export async function tabStops(page: Page, max = 80): Promise<TabStop[]> {
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
  const stops: TabStop[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const stop = await page.evaluate(() => {
      let el = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      if (!el || el === document.body) return null;
      const r = el.getBoundingClientRect();
      const name =
        el.getAttribute("aria-label") ||
        (el as HTMLInputElement).labels?.[0]?.textContent ||
        el.textContent ||
        el.tagName;
      return {
        name: `${el.tagName.toLowerCase()} “${name.replace(/\s+/g, " ").trim().slice(0, 40)}”`,
        top: r.top + scrollY,
        bottom: r.bottom + scrollY,
        left: r.left + scrollX,
        right: r.right + scrollX,
      };
    });
    if (!stop) break;
    if (stops.length > 0 && stop.name === stops[0]!.name && stop.top === stops[0]!.top) break;
    stops.push(stop);
  }
  return stops;
}

/**
 * Where Tab goes against what the eye reads (top to bottom, then left to right in a row): a stop
 * wholly above the one before it, or on the same row wholly to its left. Each as "a → b".
 */
export function backwardJumps(stops: TabStop[]): string[] {
  const jumps: string[] = [];
  for (let i = 1; i < stops.length; i++) {
    const [a, b] = [stops[i - 1]!, stops[i]!];
    const above = b.bottom <= a.top + 1;
    const sameRow = b.top < a.bottom - 1 && b.bottom > a.top + 1;
    const leftOf = sameRow && b.right <= a.left + 1;
    if (above || leftOf) jumps.push(`${a.name} → ${b.name}`);
  }
  return jumps;
}

/**
 * Where the focus goes when a lazy part that failed to load arrives after Try again (LazyPart.svelte).
 * Plain DOM, so the rule reads apart from the markup.
 */

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';

/** Whether the focus is still on `el`, or nowhere (the page itself): not moved on by the reader. */
export function focusStayedOn(el: HTMLElement): boolean {
  const root = el.getRootNode() as Document | ShadowRoot;
  if (root.activeElement === el) return true;
  const active = el.ownerDocument.activeElement;
  // In a shadow root, activeElement is null when the focus is outside it: nowhere only if the document's is.
  return (
    (root.activeElement === null || root.activeElement === el.ownerDocument.body) &&
    (active === null || active === el.ownerDocument.body)
  );
}

/**
 * What takes the focus once the part is where its failure was (between `before` and `after`, the
 * siblings the failure had in `parent`): the focusable region it sits in (the conversation's log),
 * else the part's first control (the model list's <select>), else nothing.
 */
export function focusTarget(
  parent: Node | null,
  before: Node | null,
  after: Node | null,
): HTMLElement | undefined {
  if (!(parent instanceof Element)) return undefined;
  const region = parent.closest<HTMLElement>(FOCUSABLE);
  if (region) return region;
  for (let n = before ? before.nextSibling : parent.firstChild; n && n !== after; n = n.nextSibling) {
    if (!(n instanceof HTMLElement)) continue;
    const found = n.matches(FOCUSABLE) ? n : n.querySelector<HTMLElement>(FOCUSABLE);
    if (found) return found;
  }
  return undefined;
}

/**
 * A question asked in place before something that cannot be undone (stop serving mid-answer, leave
 * the Registry, close the escrow), made to behave as a dialog does from the keyboard: on showing, the
 * focus goes to its safe answer (`data-safe`: keep serving, keep the stake, keep it open), so Enter
 * never does the irreversible thing by accident, and Escape answers "keep" (`cancel`), without also
 * closing what holds the question (the page's own Escape sees `defaultPrevented`).
 */
export function confirmKeys(node: HTMLElement, cancel: () => void) {
  let onCancel = cancel;
  node.querySelector<HTMLElement>("[data-safe]")?.focus();
  const keydown = (e: KeyboardEvent) => {
    if (e.key !== "Escape" || e.defaultPrevented) return;
    e.preventDefault();
    onCancel();
  };
  node.addEventListener("keydown", keydown);
  return {
    update(next: () => void) {
      onCancel = next;
    },
    destroy() {
      node.removeEventListener("keydown", keydown);
    },
  };
}

/**
 * The focus is on nothing a user chose: nothing, the page itself, or the host of `near`'s shadow
 * root (the widget's) with nothing inside it. Where a button that left the page or went off drops
 * it; the one test of it for every page (a control may then take the focus back).
 */
export function focusIsNowhere(near?: Node): boolean {
  const active = document.activeElement;
  if (active === null || active === document.body || active === document.documentElement) return true;
  const r = near?.getRootNode();
  return r instanceof ShadowRoot && active === r.host && r.activeElement === null;
}

/**
 * A Svelte action for a button that goes off (`disabled`) while the work it started runs: a
 * disabled button cannot hold the focus, so the browser drops it to the page itself, and a
 * keyboard user pressing Get 100 test TON or Deposit found the next Tab starting over from the
 * top (in the widget, Escape no longer left the wallet). When it is on again and the focus is
 * still nowhere (on the page itself, or nothing in the widget's shadow root), the focus comes back.
 */
export function holdFocus(button: HTMLButtonElement): { destroy(): void } {
  let held = false;
  const root = () => button.getRootNode() as Document | ShadowRoot;
  const focused = () => {
    held = false;
  };
  const left = (e: FocusEvent) => {
    // Off because it went disabled, not because the user moved on (to another control, another tab).
    held = button.disabled && e.relatedTarget === null;
  };
  const watch = new MutationObserver(() => {
    if (button.disabled) {
      if (root().activeElement === button) held = true;
      return;
    }
    if (held && focusIsNowhere(button) && document.hasFocus()) button.focus();
    held = false;
  });
  button.addEventListener("focus", focused);
  button.addEventListener("blur", left);
  watch.observe(button, { attributes: true, attributeFilter: ["disabled"] });
  return {
    destroy() {
      watch.disconnect();
      button.removeEventListener("focus", focused);
      button.removeEventListener("blur", left);
    },
  };
}

/**
 * A Svelte action for a group of buttons that replace one another (Start serving → Pause and Stop
 * → Resume): the pressed one leaves the page, and with it the focus, to the page itself. While the
 * focus was in the group and is now nowhere, it goes to the group's first button that is on.
 */
export function keepFocusIn(group: HTMLElement): { destroy(): void } {
  let within = false;
  const entered = () => {
    within = true;
  };
  const left = (e: FocusEvent) => {
    // Moved on by the user (to a control outside the group, or a click on the page): not ours to
    // bring back. A button that left the page or went off did not move the focus by the user's will.
    if (e.relatedTarget instanceof Node) {
      if (!group.contains(e.relatedTarget)) within = false;
      return;
    }
    const from = e.target as HTMLButtonElement;
    setTimeout(() => {
      if (from.isConnected && !from.disabled) within = false;
    });
  };
  const watch = new MutationObserver(() => {
    if (!within || group.contains(document.activeElement)) return;
    if (!focusIsNowhere(group)) {
      within = false;
      return;
    }
    const next = group.querySelector<HTMLButtonElement>("button:not([disabled])");
    if (next && document.hasFocus()) next.focus();
  });
  group.addEventListener("focusin", entered);
  group.addEventListener("focusout", left);
  watch.observe(group, { childList: true, subtree: true, attributes: true, attributeFilter: ["disabled"] });
  return {
    destroy() {
      watch.disconnect();
      group.removeEventListener("focusin", entered);
      group.removeEventListener("focusout", left);
    },
  };
}

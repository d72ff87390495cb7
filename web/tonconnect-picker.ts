import type { TonConnectUI } from "@tonconnect/ui";

/**
 * TON Connect's wallet picker, made usable by keyboard and screen reader (@tonconnect/ui 2.4.4
 * leaves it without): while it is open the page behind it is inert, so Tab stays in the picker
 * instead of walking the page under it; it is a labelled modal dialog and takes the focus; its
 * icon buttons (close, back, QR code, help) get names; when it closes the focus goes back where it
 * was. Its icons are told apart by their drawing (the first command of the icon's path), the one
 * thing the UI renders that says which icon a button shows.
 */
const ICON_NAMES: readonly (readonly [string, string])[] = [
  ["M2.71966 2.71968", "Close"],
  ["M10.2122 14.3407", "Back"],
  ["M1 4.12695", "Show the QR code"],
  ["M5.56608 4.42584", "What is a wallet?"],
];

const ROOT = "tc-widget-root";
const PICKER = "[data-tc-wallets-modal-container]";

export function keepPickerAccessible(ui: TonConnectUI): () => void {
  let opener: HTMLElement | null = null;
  let made: Element[] = [];
  let watching: MutationObserver | undefined;
  const close = () => {
    watching?.disconnect();
    watching = undefined;
    for (const el of made) el.removeAttribute("inert");
    made = [];
    if (opener?.isConnected) opener.focus();
    opener = null;
  };
  const open = () => {
    if (watching) return;
    opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    // Everything but the picker goes inert (what was inert already stays as it was).
    made = [...document.body.children].filter((el) => el.id !== ROOT && !el.hasAttribute("inert"));
    for (const el of made) el.setAttribute("inert", "");
    const root = document.getElementById(ROOT) ?? document.body;
    watching = new MutationObserver(() => tend(root));
    watching.observe(root, { childList: true, subtree: true });
    tend(root);
  };
  return ui.onModalStateChange((state) => (state.status === "opened" ? open() : close()));
}

/** Names the picker's unnamed icon buttons, labels it a dialog and moves the focus into it. */
function tend(root: Element): void {
  const picker = root.querySelector(PICKER);
  if (!picker) return;
  if (!picker.hasAttribute("role")) {
    picker.setAttribute("role", "dialog");
    picker.setAttribute("aria-modal", "true");
    picker.setAttribute("aria-label", "Connect a TON wallet");
  }
  for (const button of picker.querySelectorAll("button:not([aria-label])")) {
    if (button.textContent?.trim()) continue;
    const d = button.querySelector("path")?.getAttribute("d") ?? "";
    const name = ICON_NAMES.find(([start]) => d.startsWith(start))?.[1];
    if (name) button.setAttribute("aria-label", name);
  }
  if (!picker.contains(document.activeElement)) picker.querySelector<HTMLElement>("button")?.focus();
}

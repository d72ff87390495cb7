/**
 * TEST DOUBLE: a `window.Telegram.WebApp` as a Telegram client provides it, recording every call,
 * so a page can be run "inside Telegram" in plain Chromium. Injected with `addInitScript` before
 * the page's own scripts run. `window.tgDouble` lets the test click the buttons and fire events.
 */
export const TELEGRAM_THEME = {
  bg_color: "#17212b",
  text_color: "#f5f5f5",
  hint_color: "#aab7c4",
  link_color: "#6ab3f3",
  button_color: "#5288c1",
  button_text_color: "#ffffff",
  secondary_bg_color: "#232e3c",
};

/** Telegram's light theme as its clients send it; its hint grey is fainter than WCAG AA allows. */
export const TELEGRAM_LIGHT_THEME = {
  bg_color: "#ffffff",
  text_color: "#000000",
  hint_color: "#999999",
  link_color: "#2481cc",
  button_color: "#2481cc",
  button_text_color: "#ffffff",
  secondary_bg_color: "#efeff3",
};

export function telegramDoubleScript(theme: Record<string, string>): string {
  return `(() => {
    const calls = [];
    const handlers = {};
    const button = (name) => {
      const clicks = new Set();
      const b = {
        visible: false, text: "", progress: false, clicks,
        setText(t) { calls.push(name + ".setText:" + t); b.text = t; return b; },
        show() { calls.push(name + ".show"); b.visible = true; return b; },
        hide() { calls.push(name + ".hide"); b.visible = false; return b; },
        enable() { calls.push(name + ".enable"); return b; },
        disable() { calls.push(name + ".disable"); return b; },
        showProgress() { calls.push(name + ".showProgress"); b.progress = true; return b; },
        hideProgress() { calls.push(name + ".hideProgress"); b.progress = false; return b; },
        onClick(cb) { clicks.add(cb); return b; },
        offClick(cb) { clicks.delete(cb); return b; },
      };
      return b;
    };
    const app = {
      initData: "query_id=test&user=%7B%22id%22%3A1%7D&auth_date=1&hash=00",
      platform: "tdesktop",
      version: "8.0",
      isVersionAtLeast(v) {
        const [a, b] = [this.version, v].map((x) => x.split(".").map(Number));
        return a[0] !== b[0] ? a[0] > b[0] : (a[1] ?? 0) >= (b[1] ?? 0);
      },
      isClosingConfirmationEnabled: false,
      isVerticalSwipesEnabled: true,
      enableClosingConfirmation() { calls.push("closingConfirmation:on"); app.isClosingConfirmationEnabled = true; },
      disableClosingConfirmation() { calls.push("closingConfirmation:off"); app.isClosingConfirmationEnabled = false; },
      disableVerticalSwipes() { calls.push("verticalSwipes:off"); app.isVerticalSwipesEnabled = false; },
      enableVerticalSwipes() { calls.push("verticalSwipes:on"); app.isVerticalSwipesEnabled = true; },
      colorScheme: "dark",
      themeParams: ${JSON.stringify(theme)},
      viewportStableHeight: 600,
      safeAreaInset: { top: 0, bottom: 34, left: 0, right: 0 },
      contentSafeAreaInset: { top: 12, bottom: 0, left: 0, right: 0 },
      MainButton: button("MainButton"),
      SecondaryButton: button("SecondaryButton"),
      BackButton: button("BackButton"),
      HapticFeedback: {
        impactOccurred(s) { calls.push("haptic.impact:" + s); },
        notificationOccurred(t) { calls.push("haptic.notification:" + t); },
        selectionChanged() { calls.push("haptic.selection"); },
      },
      ready() { calls.push("ready"); },
      expand() { calls.push("expand"); },
      onEvent(e, cb) { (handlers[e] ??= new Set()).add(cb); },
      offEvent(e, cb) { handlers[e]?.delete(cb); },
    };
    window.Telegram = { WebApp: app };
    window.tgDouble = {
      calls,
      app,
      click(name) { for (const cb of [...app[name].clicks]) cb(); },
      fire(e) { for (const cb of [...(handlers[e] ?? [])]) cb(); },
    };
  })();`;
}

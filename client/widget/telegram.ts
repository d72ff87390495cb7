/**
 * A thin typed wrapper over the plain Telegram WebApp object (`window.Telegram.WebApp`, from
 * telegram-web-app.js, which the Mini App's page loads). Only what the widget uses is typed.
 * Outside Telegram (no object, or an empty `initData` in a plain browser), `telegram()` is undefined.
 */
export interface TelegramThemeParams {
  bg_color?: string;
  text_color?: string;
  hint_color?: string;
  link_color?: string;
  button_color?: string;
  button_text_color?: string;
  secondary_bg_color?: string;
  destructive_text_color?: string;
}

export interface SafeAreaInset {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

interface TelegramButton {
  setText(text: string): TelegramButton;
  show(): TelegramButton;
  hide(): TelegramButton;
  enable(): TelegramButton;
  disable(): TelegramButton;
  onClick(cb: () => void): TelegramButton;
  offClick(cb: () => void): TelegramButton;
}

type TelegramEvent = "themeChanged" | "viewportChanged" | "safeAreaChanged" | "contentSafeAreaChanged";

export interface TelegramWebApp {
  initData: string;
  platform: string;
  colorScheme: "light" | "dark";
  themeParams: TelegramThemeParams;
  viewportStableHeight: number;
  safeAreaInset?: SafeAreaInset;
  contentSafeAreaInset?: SafeAreaInset;
  MainButton: TelegramButton;
  BackButton: Omit<TelegramButton, "setText" | "enable" | "disable">;
  HapticFeedback?: {
    impactOccurred(style: "light" | "medium" | "heavy" | "rigid" | "soft"): void;
    notificationOccurred(type: "error" | "success" | "warning"): void;
    selectionChanged(): void;
  };
  ready(): void;
  expand(): void;
  onEvent(event: TelegramEvent, cb: () => void): void;
  offEvent(event: TelegramEvent, cb: () => void): void;
}

export function telegram(): TelegramWebApp | undefined {
  const app = (globalThis as { Telegram?: { WebApp?: TelegramWebApp } }).Telegram?.WebApp;
  return app && typeof app.onEvent === "function" && app.initData ? app : undefined;
}

/** Telegram theme parameters → the widget's CSS custom properties. */
export function themeVariables(p: TelegramThemeParams): Record<string, string> {
  const map: [keyof TelegramThemeParams, string][] = [
    ["bg_color", "--silk-bg"],
    ["text_color", "--silk-fg"],
    ["hint_color", "--silk-muted"],
    ["link_color", "--silk-link"],
    ["button_color", "--silk-accent"],
    ["button_text_color", "--silk-accent-fg"],
    ["secondary_bg_color", "--silk-panel"],
    ["destructive_text_color", "--silk-danger"],
  ];
  const vars: Record<string, string> = {};
  for (const [key, name] of map) {
    const value = p[key];
    if (value && /^#[0-9a-f]{3,8}$/i.test(value)) vars[name] = value;
  }
  return vars;
}

/**
 * Follows Telegram: theme colours (and their changes), the stable viewport height and the safe
 * area insets, as CSS variables on `host`. Returns a function that stops following.
 */
export function followTelegram(app: TelegramWebApp, host: HTMLElement): () => void {
  const apply = () => {
    for (const [name, value] of Object.entries(themeVariables(app.themeParams)))
      host.style.setProperty(name, value);
    host.style.setProperty("color-scheme", app.colorScheme);
    host.style.setProperty("--tg-stable-height", `${app.viewportStableHeight}px`);
    const safe = app.safeAreaInset ?? { top: 0, bottom: 0, left: 0, right: 0 };
    const content = app.contentSafeAreaInset ?? { top: 0, bottom: 0, left: 0, right: 0 };
    for (const side of ["top", "bottom", "left", "right"] as const) {
      host.style.setProperty(`--tg-inset-${side}`, `${safe[side] + content[side]}px`);
    }
    host.dataset.telegram = app.colorScheme;
  };
  const events = ["themeChanged", "viewportChanged", "safeAreaChanged", "contentSafeAreaChanged"] as const;
  for (const e of events) app.onEvent(e, apply);
  apply();
  return () => {
    for (const e of events) app.offEvent(e, apply);
  };
}

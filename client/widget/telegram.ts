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
  /** Bot API 6.0+: a spinner on the button while work is under way. */
  showProgress?(leaveActive?: boolean): TelegramButton;
  hideProgress?(): TelegramButton;
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
  /** Bot API version of the Telegram client, e.g. "8.0". */
  version?: string;
  isVersionAtLeast?(version: string): boolean;
  MainButton: TelegramButton;
  /** Bot API 7.10+. */
  SecondaryButton?: TelegramButton;
  BackButton: Omit<TelegramButton, "setText" | "enable" | "disable">;
  /** Bot API 6.2+. */
  enableClosingConfirmation?(): void;
  disableClosingConfirmation?(): void;
  /** Bot API 7.7+. */
  disableVerticalSwipes?(): void;
  enableVerticalSwipes?(): void;
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

/** Whether the Telegram client has Bot API `version` (features newer than 6.0 are checked first). */
export function hasVersion(app: TelegramWebApp, version: string): boolean {
  return typeof app.isVersionAtLeast === "function" && app.isVersionAtLeast(version);
}

export function telegram(): TelegramWebApp | undefined {
  const app = (globalThis as { Telegram?: { WebApp?: TelegramWebApp } }).Telegram?.WebApp;
  return app && typeof app.onEvent === "function" && app.initData ? app : undefined;
}

/**
 * Telegram theme parameters → the widget's CSS custom properties. Colours used as text on the
 * background (hint, link, button colour on secondary buttons) move toward the text colour until
 * they read (WCAG AA, 4.5:1, on the background and the panels) when a theme makes them too faint:
 * Telegram's own light hint grey is one. They stay shades of their own, so a placeholder never
 * looks like typed text. Text on a button that does not read becomes the text colour.
 */
export function themeVariables(p: TelegramThemeParams): Record<string, string> {
  const valid = (c: string | undefined) => (c && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(c) ? c : undefined);
  const bg = valid(p.bg_color);
  const fg = valid(p.text_color);
  const panel = valid(p.secondary_bg_color);
  const readable = (c: string | undefined, on: string | undefined) =>
    c && on && fg && contrastRatio(c, on) < 4.5 ? fg : c;
  const onPage = (c: string | undefined) =>
    c && bg && fg ? towardText(c, fg, panel ? [bg, panel] : [bg]) : c;
  const button = valid(p.button_color);
  const buttonText = valid(p.button_text_color);
  const vars: Record<string, string | undefined> = {
    "--silk-bg": bg,
    "--silk-fg": fg,
    "--silk-muted": onPage(valid(p.hint_color)),
    "--silk-link": onPage(valid(p.link_color)),
    "--silk-accent": button,
    "--silk-accent-fg": button ? readable(buttonText, button) : undefined,
    "--silk-accent-text": onPage(button),
    "--silk-panel": panel,
    // Error text must stay readable on any theme: Silk's red is too dark on Telegram's dark themes.
    "--silk-danger": readableDanger(valid(p.destructive_text_color), bg),
  };
  return Object.fromEntries(Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined));
}

/** `c` moved toward `fg` a twentieth at a time until it reads on every one of `on`. */
function towardText(c: string, fg: string, on: string[]): string {
  const [a, b] = [rgb(c), rgb(fg)];
  for (let t = 0; t <= 20; t++) {
    const m = `#${a
      .map((x, i) =>
        Math.round(x + ((b[i]! - x) * t) / 20)
          .toString(16)
          .padStart(2, "0"),
      )
      .join("")}`;
    if (on.every((bg) => contrastRatio(m, bg) >= 4.5)) return m;
  }
  return fg;
}

function readableDanger(given: string | undefined, bg: string | undefined): string | undefined {
  if (!bg) return given;
  const candidates = [given, "#a4161a", "#ff8a80"].filter((c): c is string => c !== undefined);
  return candidates.find((c) => contrastRatio(c, bg) >= 4.5) ?? (luminance(bg) < 0.2 ? "#ffffff" : "#000000");
}

/** WCAG contrast ratio of two #rgb / #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [la, lb] = [luminance(a), luminance(b)];
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** #rgb / #rrggbb → [r, g, b], 0 to 255. */
function rgb(hex: string): number[] {
  const h = hex.slice(1);
  const full = h.length === 3 ? [...h].map((c) => c + c).join("") : h;
  return [0, 2, 4].map((i) => Number.parseInt(full.slice(i, i + 2), 16));
}

function luminance(hex: string): number {
  const [r, g, b] = rgb(hex).map((x) => {
    const c = x / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/**
 * Follows Telegram: theme colours (and their changes), the stable viewport height and the safe
 * area insets, as CSS variables on `host`. Returns a function that stops following.
 */
export function followTelegram(app: TelegramWebApp, host: HTMLElement): () => void {
  let was = 0;
  const apply = () => {
    const tall = app.viewportStableHeight;
    for (const [name, value] of Object.entries(themeVariables(app.themeParams)))
      host.style.setProperty(name, value);
    host.style.setProperty("color-scheme", app.colorScheme);
    host.style.setProperty("--tg-stable-height", `${tall}px`);
    // Inside a Mini App the chat is the app: it takes the stable viewport height, whatever the page says.
    host.style.setProperty("box-sizing", "border-box");
    host.style.setProperty("height", `${tall}px`);
    const safe = app.safeAreaInset ?? { top: 0, bottom: 0, left: 0, right: 0 };
    const content = app.contentSafeAreaInset ?? { top: 0, bottom: 0, left: 0, right: 0 };
    for (const side of ["top", "bottom", "left", "right"] as const) {
      host.style.setProperty(`--tg-inset-${side}`, `${safe[side] + content[side]}px`);
    }
    // The keyboard opening shrinks the viewport: the field being typed in stays on screen. Only then:
    // scrolled to at every event (a button shown, the keyboard closing, a theme change), a focused
    // button or the conversation the reader had scrolled away from pulled the page back to it.
    const field = host.shadowRoot?.activeElement;
    if (tall < was && field?.matches("input,textarea")) field.scrollIntoView({ block: "nearest" });
    was = tall;
    host.dataset.telegram = app.colorScheme;
    // Telegram's scheme, not the system's, decides the colours Silk does not take from the theme.
    host.dataset.theme = app.colorScheme;
  };
  const events = ["themeChanged", "viewportChanged", "safeAreaChanged", "contentSafeAreaChanged"] as const;
  for (const e of events) app.onEvent(e, apply);
  apply();
  return () => {
    for (const e of events) app.offEvent(e, apply);
  };
}

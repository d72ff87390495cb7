/**
 * Light or dark: the system's choice unless the reader picks one with the toggle. The choice is
 * kept in localStorage and applied as `data-theme` on <html> before the page paints (see
 * `applySavedTheme`, called first thing by each page's entry).
 */
export type Theme = "system" | "light" | "dark";
const KEY = "silk.theme";

export function savedTheme(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === "light" || t === "dark" ? t : "system";
  } catch {
    return "system";
  }
}

export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
  try {
    if (theme === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // storage is off (private mode): the choice lasts for this page only
  }
}

export const nextTheme = (t: Theme): Theme => (t === "system" ? "light" : t === "light" ? "dark" : "system");

export function applySavedTheme(): void {
  applyTheme(savedTheme());
}

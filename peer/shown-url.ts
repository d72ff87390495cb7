/**
 * A URL as a program may print it: scheme, host, port and path. A user name and password, the query
 * and the fragment are left out: operators put API keys there (toncenter's `?api_key=`, a
 * backend's `https://user:key@host`), and what a program prints ends up in logs.
 */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden =
      u.username || u.password || u.search || u.hash ? " (its credentials and query not shown)" : "";
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}${hidden}`;
  } catch {
    return "(not a URL)";
  }
}

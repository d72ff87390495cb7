/**
 * Why the chat could not start, in words with what to do: the shell is on screen but a part of
 * the page that follows it did not download (a flaky phone network), or the browser keeps no data
 * for it (IndexedDB refused, as in some private windows). Imports nothing: the shell shows it.
 */
export function startProblem(err: unknown): string {
  const e = err instanceof Error ? err : undefined;
  const said = `${e?.name ?? ""} ${e?.message ?? ""}`;
  const why = /imported module|module script/i.test(said)
    ? "part of the page did not download"
    : /failed to fetch|load failed|networkerror/i.test(said)
      ? "the Silk server does not answer"
      : /indexeddb|quota|InvalidStateError|UnknownError|SecurityError/i.test(said)
        ? "this browser does not let the page keep its data (a private window may not)"
        : "it hit an error";
  return `Silk could not start: ${why}. Check the connection, then reload the page.`;
}

/**
 * A repeat within this long is the same Ctrl-C: the terminal sends SIGINT to the whole process
 * group, and npm (`npm start`, `npm run signaling`) forwards the one it got to the program too.
 */
const ECHO_MS = 1_000;

/**
 * Ctrl-C or SIGTERM runs `stop` once, then exits 0 (1 if it failed); the echo of that same Ctrl-C
 * is ignored, and a later second one exits 1 at once, for a stop that hangs.
 */
export function stopOnSignals(stop: () => Promise<unknown>): void {
  let first: number | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.on(signal, () => {
      if (first !== undefined) {
        if (performance.now() - first > ECHO_MS) process.exit(1);
        return;
      }
      first = performance.now();
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
}

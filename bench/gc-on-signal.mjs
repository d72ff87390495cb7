// Preloaded into the bench's server processes (with --expose-gc): SIGUSR2 collects garbage, so a
// heap read right after counts what the server holds, not what it has yet to collect.
const gc = globalThis.gc;
if (gc)
  process.on("SIGUSR2", () => {
    gc();
    gc();
  });

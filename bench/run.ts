/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line) in turn.
 * Each module's default export prints its own tables, always with a baseline measured in the
 * same run, because these machines are too noisy for absolute numbers to mean much.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const all = readdirSync(here).filter((f) => f.endsWith(".bench.ts"));
// A name that is a benchmark's whole name runs that one (`audit` is not `honest-audits`); any
// other name runs every benchmark whose name contains it.
const named = (o: string) =>
  all.includes(`${o}.bench.ts`) ? [`${o}.bench.ts`] : all.filter((f) => f.includes(o));
const files = (only.length === 0 ? all : [...new Set(only.flatMap(named))]).sort();

for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<void> };
  console.log(`\n=== ${file} ===`);
  await mod.default();
}
process.exit(0);

/**
 * `--help` (or `-h`) anywhere among a command-line program's arguments: its usage goes to stdout
 * and it exits 0, before anything else is read or started. Used by `npm run provider`,
 * `npm run gateway` and `npm run auditor` (and their subcommands).
 */
export function exitOnHelp(argv: readonly string[], usage: string): void {
  if (!argv.includes("--help") && !argv.includes("-h")) return;
  console.log(usage);
  process.exit(0);
}

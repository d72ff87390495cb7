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

/**
 * What a command line that cannot be read says: the error's own message, and of Node's parseArgs
 * refusal of an unknown option only its first sentence (not its paragraph about positionals).
 */
export function optionMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split(". To specify")[0]!;
}

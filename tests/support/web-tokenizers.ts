import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { constants, Script } from "node:vm";
import type { Tokenizer } from "@mlc-ai/web-tokenizers";

const require = createRequire(import.meta.url);

/**
 * The real `@mlc-ai/web-tokenizers` (HF tokenizers in wasm) in Node. Its file is a UMD bundle in
 * a `"type": "module"` package: Node's ESM loader gives it no exports, and its Node branch needs
 * `require`. It is CommonJS in all but name, and that is how bundlers (Vite, WebLLM's rollup)
 * take it, so here it is run as CommonJS too.
 */
export async function toyTokenizer(): Promise<Tokenizer> {
  const lib = loadWebTokenizers();
  const json = readFileSync(new URL("../doubles/toy-tokenizer.json", import.meta.url));
  return lib.Tokenizer.fromJSON(new Uint8Array(json).buffer);
}

let loaded: { Tokenizer: typeof Tokenizer } | undefined;
function loadWebTokenizers(): { Tokenizer: typeof Tokenizer } {
  if (loaded) return loaded;
  const file = require.resolve("@mlc-ai/web-tokenizers");
  const module = { exports: {} as { Tokenizer: typeof Tokenizer } };
  // Its Node branch imports `module` dynamically: the script gets Node's own loader for that.
  const wrapped = `(function (exports, module, require, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`;
  const run = new Script(wrapped, {
    filename: file,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }).runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, module, require, file, file.slice(0, file.lastIndexOf("/")));
  loaded = module.exports;
  return loaded;
}

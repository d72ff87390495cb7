// `npm run check` type-checks the .svelte files with svelte-check. svelte-check drives
// TypeScript's JS API, which TypeScript 7 (the project's `tsc`, a native binary) no longer has, so
// here its `require("typescript")` is pointed at TypeScript 6 (the `typescript-6` alias) while
// `npm run typecheck` keeps using 7 for the .ts files.
const Module = require("node:module");

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "typescript" || request.startsWith("typescript/")) {
    return resolve.call(this, request.replace(/^typescript/, "typescript-6"), ...rest);
  }
  return resolve.call(this, request, ...rest);
};
require("svelte-check/bin/svelte-check");

// Imported first by every page entry: @ton/core and simple-peer's dependencies expect Node's
// `Buffer`, `global` and `process` to exist. Kept tiny and in one place.
import { Buffer } from "buffer";

const g = globalThis as unknown as {
  Buffer?: unknown;
  global?: unknown;
  process?: { env: Record<string, string>; nextTick?: unknown };
};
g.Buffer ??= Buffer;
g.global ??= globalThis;
g.process ??= { env: {} };
g.process.nextTick ??= (fn: (...a: unknown[]) => void, ...args: unknown[]) =>
  queueMicrotask(() => fn(...args));

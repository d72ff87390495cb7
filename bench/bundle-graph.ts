/**
 * What a Vite build put where: a plugin that records every written chunk (its file, the chunks it
 * imports statically and dynamically, the modules in it with their rendered sizes, its gzip size),
 * and the questions asked of it: what a page downloads first (the entry and everything it
 * imports statically), what each lazy import adds, and which packages weigh most in a set of
 * chunks. Used by `bench/widget-size.bench.ts` and by the widget's first-download test.
 */
import { gzipSync } from "node:zlib";
import type { Plugin } from "vite";

export interface ChunkFacts {
  readonly fileName: string;
  readonly isEntry: boolean;
  /** The module a dynamic import names, for a lazy chunk. */
  readonly facadeModuleId: string | null;
  readonly imports: readonly string[];
  readonly dynamicImports: readonly string[];
  /** Module id → rendered length (bytes of code before minification). */
  readonly modules: ReadonlyMap<string, number>;
  readonly raw: number;
  readonly gzip: number;
}

export type ChunkGraph = Map<string, ChunkFacts>;

/** Records the chunks of the build it is added to into `graph` (after they are written, minified). */
export function recordChunks(graph: ChunkGraph): Plugin {
  return {
    name: "silk-record-chunks",
    writeBundle(_options, bundle) {
      for (const c of Object.values(bundle)) {
        if (c.type !== "chunk") continue;
        graph.set(c.fileName, {
          fileName: c.fileName,
          isEntry: c.isEntry,
          facadeModuleId: c.facadeModuleId,
          imports: c.imports,
          dynamicImports: c.dynamicImports,
          modules: new Map(Object.entries(c.modules).map(([id, m]) => [id, m.renderedLength])),
          raw: Buffer.byteLength(c.code),
          gzip: gzipSync(c.code, { level: 9 }).length,
        });
      }
    },
  };
}

/** `fileName` and every chunk it imports statically: what loads before its code runs. */
export function staticClosure(graph: ChunkGraph, fileName: string, into = new Set<string>()): Set<string> {
  if (into.has(fileName)) return into;
  into.add(fileName);
  for (const f of graph.get(fileName)?.imports ?? []) staticClosure(graph, f, into);
  return into;
}

/** The entry chunk whose facade module's path ends with `suffix` (an HTML page's script or a lib entry). */
export function entryChunk(graph: ChunkGraph, suffix: string): ChunkFacts {
  const found = [...graph.values()].find((c) => c.isEntry && c.facadeModuleId?.endsWith(suffix));
  if (!found) throw new Error(`no entry chunk for ${suffix}`);
  return found;
}

/**
 * What a lazy import adds once `loaded` is there: the chunk whose facade module's path ends with
 * `suffix`, everything it imports statically or dynamically (a lazy chunk's own lazy imports count
 * as its, except those that start another measured group: `stops`), minus what is already loaded.
 * Adds what it counts to `loaded`.
 */
export function lazyGroup(
  graph: ChunkGraph,
  suffix: string,
  loaded: Set<string>,
  stops: readonly string[] = [],
): Set<string> {
  const start = [...graph.values()].find((c) => !c.isEntry && c.facadeModuleId?.endsWith(suffix));
  if (!start) throw new Error(`no lazy chunk for ${suffix}`);
  const group = new Set<string>();
  const visit = (f: string) => {
    if (loaded.has(f) || group.has(f)) return;
    group.add(f);
    const c = graph.get(f);
    for (const next of c?.imports ?? []) visit(next);
    for (const next of c?.dynamicImports ?? []) {
      const facade = graph.get(next)?.facadeModuleId ?? "";
      if (!stops.some((s) => s !== suffix && facade.endsWith(s))) visit(next);
    }
  };
  visit(start.fileName);
  for (const f of group) loaded.add(f);
  return group;
}

export function sizeOf(graph: ChunkGraph, files: Iterable<string>): { raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    raw += graph.get(f)?.raw ?? 0;
    gzip += graph.get(f)?.gzip ?? 0;
  }
  return { raw, gzip };
}

/** The npm package a module id belongs to, or its path inside the repository. */
export function packageOf(id: string, root: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(id);
  if (m) return m[1]!;
  return id.startsWith(root) ? id.slice(root.length).replace(/^\//, "").replace(/\?.*$/, "") : id;
}

/** Every module id in these chunks. */
export function modulesIn(graph: ChunkGraph, files: Iterable<string>): string[] {
  return [...files].flatMap((f) => [...(graph.get(f)?.modules.keys() ?? [])]);
}

/** The heaviest packages (or first-party files) in these chunks, by rendered size before minification. */
export function heaviest(
  graph: ChunkGraph,
  files: Iterable<string>,
  root: string,
  n: number,
): { name: string; bytes: number }[] {
  const by = new Map<string, number>();
  for (const f of files)
    for (const [id, bytes] of graph.get(f)?.modules ?? []) {
      const name = packageOf(id, root);
      by.set(name, (by.get(name) ?? 0) + bytes);
    }
  return [...by]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}

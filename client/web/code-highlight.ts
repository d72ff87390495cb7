// Code highlighting for answers: highlight.js's core with the languages answers use most, a lazy
// chunk that `markdown.ts` fetches the first time an answer holds a code block.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

for (const [name, lang] of Object.entries({
  bash,
  c,
  cpp,
  css,
  go,
  java,
  javascript,
  json,
  python,
  rust,
  sql,
  typescript,
  xml,
  yaml,
})) {
  hljs.registerLanguage(name, lang);
}

/**
 * The code as highlighted HTML (spans with `hljs-*` classes; highlight.js escapes the code), or
 * undefined for a language it does not know: the block then stays plain. No language named: guessed
 * among those above.
 */
export function highlightCode(code: string, lang: string | undefined): string | undefined {
  if (lang) return hljs.getLanguage(lang) ? hljs.highlight(code, { language: lang }).value : undefined;
  const guess = hljs.highlightAuto(code);
  return guess.relevance >= 5 ? guess.value : undefined;
}

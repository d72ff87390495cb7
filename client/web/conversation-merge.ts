import type { AnswerVersion, ChatTurn, Conversation } from "./conversation";

/**
 * Two tabs of one browser can hold the same conversation, each adding questions, answers,
 * versions (Regenerate) and branches (an edit). A save must never drop what the other tab
 * wrote, and each tab must show what the other added: `mergeConversation` joins a tab's copy
 * (`mine`) with the stored one (`theirs`). Pure: tested as a table, without a browser.
 *
 * A turn is known by its stamp (`at`, set when it was asked or answered) and role; turns kept
 * before stamps existed, by role and text. The rules:
 * - a turn of mine that theirs moved into a branch or an earlier version (their edit or
 *   Regenerate) leaves my main line; it is kept there;
 * - a turn both hold is the more complete copy (finished over streaming, then the longer text),
 *   with the versions of both;
 * - their questions I lack go in by time, each with its answers; an answer of theirs I lack to a
 *   question I hold goes after that question's answers;
 * - branches are the union of both; the model is the newer copy's (`updatedAt`), but the title
 *   and the chat's settings (system prompt, temperature, longest answer) are the later-set ones
 *   (`titleAt`, `settingsAt`): a tab still streaming into an old copy must not undo the other
 *   tab's rename or its new system prompt.
 * Mine keeps its own turn objects wherever it wins, so a tab's streaming answer stays the one on screen.
 */
export function mergeConversation(mine: Conversation, theirs: Conversation): Conversation {
  const theirsMain = known(theirs.turns);
  const theirsElsewhere = known([...branchTurns(theirs), ...versionTurns(theirs)]);
  const mineAll = known([...mine.turns, ...branchTurns(mine), ...versionTurns(mine)]);
  const theirsById = new Map(theirs.turns.map((t) => [keyOf(t), t]));

  // Mine, less what their edit or Regenerate moved aside, each turn the more complete copy.
  const turns: ChatTurn[] = mine.turns
    .filter((t) => theirsMain.has(keyOf(t)) || !theirsElsewhere.has(keyOf(t)))
    .map((t) => {
      const other = theirsById.get(keyOf(t));
      return other ? fuller(t, other) : t;
    });

  // Theirs that mine lacks, in runs: a question with its answers, or answers to a question mine holds.
  let after: ChatTurn | undefined;
  let run: ChatTurn[] | undefined;
  const place = (r: ChatTurn[], anchor: ChatTurn | undefined) => {
    const first = r[0]!;
    let at = turns.length;
    if (first.role === "user") {
      if (first.at !== undefined) {
        const later = turns.findIndex((t) => t.role === "user" && t.at !== undefined && t.at > first.at!);
        if (later >= 0) at = later;
      }
    } else if (anchor) {
      const held = turns.findIndex((t) => keyOf(t) === keyOf(anchor));
      if (held >= 0) {
        at = held + 1;
        while (turns[at]?.role === "assistant") at++;
      }
    }
    turns.splice(at, 0, ...r);
  };
  let anchor: ChatTurn | undefined;
  for (const t of theirs.turns) {
    if (mineAll.has(keyOf(t))) {
      if (run) place(run, anchor);
      run = undefined;
      after = t;
      continue;
    }
    if (run && t.role === "assistant") run.push(t);
    else {
      if (run) place(run, anchor);
      run = [t];
      anchor = after;
    }
  }
  if (run) place(run, anchor);

  const branches = union(mine.branches ?? [], theirs.branches ?? [], (b) => `${b.from}@${b.at}`).sort(
    (a, b) => a.at - b.at,
  );
  const newer = theirs.updatedAt > mine.updatedAt ? theirs : mine;
  const { branches: _, titleAt: _t, settingsAt: _s, system, temperature, maxTokens, ...rest } = newer;
  // Each by its own stamp (a copy saved before stamps counts as never), the newer copy on a tie.
  const later = (at: (c: Conversation) => number | undefined) => {
    const [a, b] = [at(theirs) ?? Number.NEGATIVE_INFINITY, at(mine) ?? Number.NEGATIVE_INFINITY];
    return a > b || (a === b && newer === theirs) ? theirs : mine;
  };
  const titled = later((c) => c.titleAt);
  const tuned = later((c) => c.settingsAt);
  return {
    ...rest,
    title: titled.title,
    ...(titled.titleAt !== undefined && { titleAt: titled.titleAt }),
    ...(tuned.settingsAt !== undefined && { settingsAt: tuned.settingsAt }),
    ...(tuned.system !== undefined && { system: tuned.system }),
    ...(tuned.temperature !== undefined && { temperature: tuned.temperature }),
    ...(tuned.maxTokens !== undefined && { maxTokens: tuned.maxTokens }),
    id: mine.id,
    createdAt: Math.min(mine.createdAt, theirs.createdAt),
    updatedAt: Math.max(mine.updatedAt, theirs.updatedAt),
    turns,
    ...(branches.length > 0 && { branches }),
  };
}

/** A turn's identity: its stamp, or its text for a turn kept before stamps existed. */
function keyOf(t: { role: string; content: string; at?: number }): string {
  return t.at !== undefined ? `${t.role}@${t.at}` : `${t.role}:${t.content}`;
}

function known(turns: Iterable<{ role: string; content: string; at?: number }>): Set<string> {
  const keys = new Set<string>();
  for (const t of turns) keys.add(keyOf(t));
  return keys;
}

function branchTurns(c: Conversation): ChatTurn[] {
  return (c.branches ?? []).flatMap((b) => b.turns);
}

/** Earlier versions of answers, as the assistant turns they were. */
function versionTurns(c: Conversation): { role: string; content: string; at?: number }[] {
  return [...c.turns, ...branchTurns(c)].flatMap((t) =>
    (t.versions ?? []).map((v) => ({
      role: "assistant",
      content: v.content,
      ...(v.at !== undefined && { at: v.at }),
    })),
  );
}

/** The more complete of two copies of one turn (finished over streaming, then the longer), with both's versions. */
function fuller(mine: ChatTurn, theirs: ChatTurn): ChatTurn {
  const done = (t: ChatTurn) => (t.stats || t.error !== undefined ? 1 : 0);
  const theirsBetter =
    done(theirs) > done(mine) || (done(theirs) === done(mine) && theirs.content.length > mine.content.length);
  const [kept, other] = theirsBetter ? [theirs, mine] : [mine, theirs];
  const versions = union(kept.versions ?? [], other.versions ?? [], (v: AnswerVersion) =>
    keyOf({ role: "assistant", ...v }),
  );
  return versions.length > (kept.versions?.length ?? 0) ? { ...kept, versions } : kept;
}

/** `a`, then what `b` has that `a` lacks, by `key`. */
function union<T>(a: readonly T[], b: readonly T[], key: (x: T) => string): T[] {
  const seen = new Set(a.map(key));
  return [...a, ...b.filter((x) => !seen.has(key(x)))];
}

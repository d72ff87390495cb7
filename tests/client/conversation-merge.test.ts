import { describe, expect, it } from "vitest";
import type { ChatTurn, Conversation } from "../../client/web/conversation";
import { mergeConversation } from "../../client/web/conversation-merge";

/** Two tabs' copies of one conversation, merged as a save or a broadcast merges them. */
const q = (content: string, at?: number): ChatTurn => ({
  role: "user",
  content,
  ...(at !== undefined && { at }),
});
const a = (content: string, at?: number, done = true): ChatTurn => ({
  role: "assistant",
  content,
  ...(at !== undefined && { at }),
  ...(done && {
    stats: {
      promptTokens: 1,
      completionTokens: 1,
      cost: 1n,
      tokensPerSecond: 1,
      failovers: 0,
      finish: "stop",
    },
  }),
});
const conv = (turns: ChatTurn[], extra: Partial<Conversation> = {}): Conversation => ({
  id: "c",
  title: "t",
  model: "m",
  turns,
  createdAt: 1,
  updatedAt: 1,
  ...extra,
});
const main = (c: Conversation) => c.turns.map((t) => t.content);
/** Every turn a copy holds (main line, branches, earlier versions), by its stamp or, unstamped, its text. */
const id = (t: { content: string; at?: number }) => t.at ?? t.content;
const everything = (c: Conversation) =>
  [...c.turns, ...(c.branches ?? []).flatMap((b) => b.turns)].flatMap((t) => [
    id(t),
    ...(t.versions ?? []).map(id),
  ]);

const Q1 = q("q1", 10);
const A1 = a("a1", 11);

const table: { name: string; mine: Conversation; theirs: Conversation; main: string[] }[] = [
  {
    name: "both tabs asked: each exchange in the order it was asked",
    mine: conv([Q1, A1, q("mine", 30), a("mine answered", 31)]),
    theirs: conv([Q1, A1, q("theirs", 20), a("theirs answered", 21)]),
    main: ["q1", "a1", "theirs", "theirs answered", "mine", "mine answered"],
  },
  {
    name: "the other tab went on: its turns are taken",
    mine: conv([Q1, A1]),
    theirs: conv([Q1, A1, q("q2", 20), a("a2", 21)]),
    main: ["q1", "a1", "q2", "a2"],
  },
  {
    name: "a question waiting for the other tab's answer goes after it",
    mine: conv([Q1, A1, q("waiting", 30), a("", 31, false)]),
    theirs: conv([Q1, A1, q("asked first", 20), a("answered first", 21)]),
    main: ["q1", "a1", "asked first", "answered first", "waiting", ""],
  },
  {
    name: "the finished copy of an answer wins over the streaming one",
    mine: conv([Q1, a("a1 so f", 11, false)]),
    theirs: conv([Q1, A1]),
    main: ["q1", "a1"],
  },
  {
    name: "their edit: my copy of the replaced turns leaves the main line, kept in their branch",
    mine: conv([Q1, A1, q("q2", 20), a("a2", 21)]),
    theirs: conv([Q1, A1, q("q2 edited", 40), a("a2'", 41)], {
      branches: [{ from: 2, turns: [q("q2", 20), a("a2", 21)], at: 40 }],
      updatedAt: 2,
    }),
    main: ["q1", "a1", "q2 edited", "a2'"],
  },
  {
    name: "their Regenerate: the new answer, with mine as its earlier version",
    mine: conv([Q1, A1]),
    theirs: conv([Q1, { ...a("a1 again", 50), versions: [{ content: "a1", at: 11 }] }]),
    main: ["q1", "a1 again"],
  },
  {
    name: "turns kept before stamps existed are known by their text",
    mine: conv([q("old"), a("old answer"), q("new", 5), a("new answer", 6)]),
    theirs: conv([q("old"), a("old answer")]),
    main: ["old", "old answer", "new", "new answer"],
  },
  {
    name: "the same words asked in both tabs are two questions",
    mine: conv([Q1, A1, q("again", 30), a("yes", 31)]),
    theirs: conv([Q1, A1, q("again", 20), a("yes", 21)]),
    main: ["q1", "a1", "again", "yes", "again", "yes"],
  },
];

describe("two tabs' copies of one conversation", () => {
  it.each(table)("$name", ({ mine, theirs, main: expected }) => {
    const merged = mergeConversation(mine, theirs);
    expect(main(merged)).toEqual(expected);
    // Nothing either tab wrote is dropped: it is on the main line, in a branch or an earlier version.
    const kept = everything(merged);
    for (const turn of [...everything(mine), ...everything(theirs)]) expect(kept).toContain(turn);
  });

  it("both tabs end with the same main line, whichever merges first", () => {
    for (const { mine, theirs } of table.filter((r) => !r.name.startsWith("a question waiting"))) {
      const there = mergeConversation(theirs, mine);
      expect(main(mergeConversation(mine, there))).toEqual(main(mergeConversation(there, mine)));
    }
  });

  it("keeps the tab's own turn objects, so an answer streaming into one stays on screen", () => {
    const streaming = a("Echo: hel", 31, false);
    const mine = conv([Q1, A1, q("hello", 30), streaming]);
    const merged = mergeConversation(mine, conv([Q1, A1, q("hello", 30), a("Echo:", 31, false)]));
    expect(merged.turns[3]).toBe(streaming);
    expect(merged.turns[0]).toBe(Q1);
  });

  it("takes the newer copy's settings and both tabs' branches", () => {
    const b1 = { from: 0, turns: [q("x", 1)], at: 3 };
    const b2 = { from: 0, turns: [q("y", 2)], at: 4 };
    const merged = mergeConversation(
      conv([Q1], { title: "old", branches: [b1], updatedAt: 5 }),
      conv([Q1], { title: "renamed", branches: [b2], updatedAt: 9, system: "be brief" }),
    );
    expect(merged).toMatchObject({ title: "renamed", system: "be brief", updatedAt: 9 });
    expect(merged.branches?.map((b) => b.at)).toEqual([3, 4]);
  });

  /** Titles: the later-set one (`titleAt`), whichever copy was saved last (`updatedAt`). */
  const titles: {
    name: string;
    mine: Partial<Conversation>;
    theirs: Partial<Conversation>;
    title: string;
  }[] = [
    {
      name: "their rename stays, though my copy (an answer streamed into it since) was saved later",
      mine: { title: "old", updatedAt: 9 },
      theirs: { title: "renamed", titleAt: 5, updatedAt: 2 },
      title: "renamed",
    },
    {
      name: "my rename stays, though their copy was saved later",
      mine: { title: "mine", titleAt: 5, updatedAt: 2 },
      theirs: { title: "old", updatedAt: 9 },
      title: "mine",
    },
    {
      name: "both renamed: the later rename, not the later save",
      mine: { title: "first rename", titleAt: 3, updatedAt: 9 },
      theirs: { title: "second rename", titleAt: 6, updatedAt: 4 },
      title: "second rename",
    },
    {
      name: "neither stamped (kept before titles had stamps): the newer copy's",
      mine: { title: "older copy", updatedAt: 2 },
      theirs: { title: "newer copy", updatedAt: 9 },
      title: "newer copy",
    },
  ];
  it.each(titles)("title: $name", ({ mine, theirs, title }) => {
    const m = conv([Q1, A1], mine);
    const t = conv([Q1, A1], theirs);
    // Both tabs end with it, whichever merges first, with its stamp for the next merge.
    for (const merged of [mergeConversation(m, t), mergeConversation(t, m)]) {
      expect(merged.title).toBe(title);
      expect(merged.titleAt).toBe([mine, theirs].find((c) => c.title === title)?.titleAt);
    }
  });

  /** A chat's settings: the later-set ones (`settingsAt`), whichever copy was saved last; the model stays the newer copy's. */
  const tunings: {
    name: string;
    mine: Partial<Conversation>;
    theirs: Partial<Conversation>;
    want: Partial<Conversation>;
  }[] = [
    {
      name: "their new system prompt stays, though my copy (an answer streamed into it since) was saved later",
      mine: { system: "old", model: "m2", updatedAt: 9 },
      theirs: { system: "be brief", temperature: 0.2, settingsAt: 5, updatedAt: 2 },
      want: { system: "be brief", temperature: 0.2, model: "m2" },
    },
    {
      name: "their reset to the defaults stays: a setting they cleared is not brought back",
      mine: { system: "old", temperature: 1.5, maxTokens: 50, settingsAt: 3, updatedAt: 9 },
      theirs: { settingsAt: 6, updatedAt: 2 },
      want: { system: undefined, temperature: undefined, maxTokens: undefined },
    },
    {
      name: "neither stamped: the newer copy's",
      mine: { system: "older copy", updatedAt: 2 },
      theirs: { system: "newer copy", updatedAt: 9 },
      want: { system: "newer copy" },
    },
  ];
  it.each(tunings)("settings: $name", ({ mine, theirs, want }) => {
    const m = conv([Q1, A1], mine);
    const t = conv([Q1, A1], theirs);
    for (const merged of [mergeConversation(m, t), mergeConversation(t, m)]) {
      for (const [k, v] of Object.entries(want)) expect(merged[k as keyof Conversation], k).toEqual(v);
    }
  });
});

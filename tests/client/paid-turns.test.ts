import { describe, expect, it } from "vitest";
import {
  type AnswerStats,
  conversationCost,
  estimatePromptTokens,
  newConversation,
  promptMessages,
} from "../../client/web/conversation";
import { exportConversations, importConversations } from "../../client/web/conversation-file";
import { themeVariables } from "../../client/widget/telegram";
import { ChainTimeoutError } from "../../web/chain-config";
import { chainErrorText } from "../../web/chain-errors";
import { WalletFailedError, WalletRejectedError } from "../../web/wallet";

const stats = (cost: bigint): AnswerStats => ({
  promptTokens: 10,
  completionTokens: 5,
  cost,
  tokensPerSecond: 3,
  failovers: 0,
  finish: "stop",
});

describe("paid turns are never dropped from the records", () => {
  it("counts answer versions and earlier branches in the conversation's cost, and exports them", () => {
    const c = newConversation("m", 1);
    c.system = "Be brief.";
    c.turns.push({ role: "user", content: "q2" });
    c.turns.push({
      role: "assistant",
      content: "a2",
      stats: stats(3n),
      versions: [
        { content: "a2 old", stats: stats(2n) },
        { content: "", error: "lost" },
      ],
    });
    c.branches = [
      {
        from: 0,
        at: 5,
        turns: [
          { role: "user", content: "q1" },
          { role: "assistant", content: "a1", stats: stats(7n) },
        ],
      },
    ];
    expect(conversationCost(c)).toBe(12n);
    const [back] = importConversations(exportConversations([c]));
    expect(back).toEqual(c);
    expect(conversationCost(back!)).toBe(12n);
  });

  it("rejects an export whose branch is not a list of turns", () => {
    const bad = JSON.stringify({
      format: "silk-conversations",
      v: 1,
      conversations: [{ ...newConversation("m", 1), branches: [{ from: 0, at: 1, turns: "nope" }] }],
    });
    expect(() => importConversations(bad)).toThrow(/branches/);
  });
});

describe("the next question's cost, before sending", () => {
  it("sends the system prompt and every turn with text again, and the estimate grows with them", () => {
    const c = newConversation("m", 1);
    c.system = "  Answer in French.  ";
    c.turns.push({ role: "user", content: "hello" }, { role: "assistant", content: "", error: "failed" });
    expect(promptMessages(c)).toEqual([
      { role: "system", content: "Answer in French." },
      { role: "user", content: "hello" },
    ]);
    const one = estimatePromptTokens([{ content: "x".repeat(400) }]);
    expect(one).toBe(104);
    expect(estimatePromptTokens([{ content: "x".repeat(400) }, { content: "more" }])).toBeGreaterThan(one);
    // Bytes, not characters: other scripts cost more tokens per character.
    expect(estimatePromptTokens([{ content: "ж".repeat(100) }])).toBe(54);
  });
});

describe("chain errors in words", () => {
  it("never shows raw node text, and says what to do", () => {
    const raw = new Error('{"ok":false,"error":"Failed to unpack account state","code":500}');
    const text = chainErrorText(raw, "Deposit");
    expect(text).toMatch(/^Deposit was not sent: the wallet holds too little TON/);
    expect(text).not.toContain("unpack");
    expect(chainErrorText(new WalletRejectedError("no"), "Registration")).toMatch(
      /declined it in the wallet/,
    );
    // A wallet that failed the request is not told as the user's No.
    expect(chainErrorText(new WalletFailedError("the wallet did not send it: bad request"), "Deposit")).toBe(
      "Deposit: the wallet did not send it: bad request. Check the wallet's history before trying again.",
    );
    expect(chainErrorText(new ChainTimeoutError("x"), "Withdraw")).toMatch(/may still land/);
    expect(chainErrorText(new Error("boom"), "Claim")).not.toContain("boom");
  });
});

describe("Telegram themes", () => {
  it("keeps error text readable on a dark theme without a destructive colour", () => {
    const vars = themeVariables({ bg_color: "#17212b", text_color: "#f5f5f5" });
    expect(vars["--silk-danger"]).toBe("#ff8a80");
    expect(themeVariables({ bg_color: "#ffffff" })["--silk-danger"]).toBe("#a4161a");
  });
});

import { describe, expect, it } from "vitest";
import { NoProviderError, ProviderError, ProviderLostError } from "../../client/sdk/errors";
import { conversationCost, newConversation, shortCostText, titleFrom } from "../../client/web/conversation";
import { exportConversations, importConversations } from "../../client/web/conversation-file";
import { explainError } from "../../client/web/error-text";
import { EscrowNotReadyError } from "../../client/web/escrow";
import { startProblem } from "../../client/web/start-problem";
import { contrastRatio, themeVariables } from "../../client/widget/telegram";
import { RelayRefusedError } from "../../peer/signaling-errors";
import { MalformedMessageError } from "../../protocol";
import { TELEGRAM_LIGHT_THEME } from "../browser/telegram-double";

describe("web client rules", () => {
  it("a phone's short balance is rounded down to 0.001 TON, never showing more than is held", () => {
    expect(shortCostText(4_998_503_600n)).toBe("4.998 TON");
    expect(shortCostText(2_000_999_999n)).toBe("2 TON");
    expect(shortCostText(5_000_000_000n)).toBe("5 TON");
    expect(shortCostText(999_999n)).toBe("<0.001 TON");
    expect(shortCostText(1_000_000n)).toBe("0.001 TON");
    expect(shortCostText(0n)).toBe("0 TON");
  });

  it("conversations round-trip through export and import with bigint costs intact", () => {
    const c = newConversation("m1", 1);
    c.title = titleFrom("  What is TON?\nsecond line");
    c.turns.push({ role: "user", content: "What is TON?" });
    c.turns.push({
      role: "assistant",
      content: "A chain.",
      stats: {
        promptTokens: 9,
        completionTokens: 3,
        cost: 123456789012345678901234567890n,
        tokensPerSecond: 12.5,
        failovers: 0,
        finish: "stop",
      },
    });
    const [back] = importConversations(exportConversations([c]));
    expect(back).toEqual(c);
    expect(back!.title).toBe("What is TON?");
    expect(conversationCost(back!)).toBe(123456789012345678901234567890n);
  });

  it("a file that is not an export fails with a typed error naming where", () => {
    expect(() => importConversations("{nope")).toThrow(MalformedMessageError);
    expect(() =>
      importConversations(JSON.stringify({ format: "silk-conversations", v: 1, conversations: [{}] })),
    ).toThrow(/conversations\.0\.id/);
    const bad = {
      format: "silk-conversations",
      v: 1,
      conversations: [{ ...newConversation("m"), turns: [{ role: "system", content: "x" }] }],
    };
    expect(() => importConversations(JSON.stringify(bad))).toThrow(MalformedMessageError);
  });

  it("long first lines make short titles", () => {
    expect(titleFrom("x".repeat(100))).toHaveLength(58);
    expect(titleFrom("   ")).toBe("New chat");
  });

  it("errors say what to do", () => {
    expect(explainError(new NoProviderError("PRICE_TOO_LOW", "x"))).toMatch(/Raise your highest price/);
    expect(explainError(new NoProviderError("NO_MODEL", "x"))).toMatch(/No provider serves this model/);
    expect(explainError(new NoProviderError("QUOTE_FORGED", "x"))).toMatch(
      /never signed, so nothing was sent/,
    );
    expect(explainError(new NoProviderError("ALL_BUSY", "x"))).toMatch(/busy/);
    expect(explainError(new ProviderLostError("partial", 1, 1n))).toMatch(/partial answer is kept/);
    // A request no server would relay said "Something went wrong with this answer".
    const refused = new RelayRefusedError("http://silk.example", new Error("RATE_LIMITED"));
    expect(explainError(refused)).toMatch(/would not carry the connection.*use another Silk server/);
    expect(explainError(new ProviderLostError("partial", 1, 1n, refused))).toMatch(
      /stopped carrying.*partial answer is kept.*use another Silk server/,
    );
    expect(explainError(new ProviderError("OUT_OF_FUNDS", "x"))).toMatch(/Top it up in Wallet/);
    expect(explainError(new ProviderError("KEY_NOT_AUTHORISED", "x"))).toMatch(
      /Deposit in Wallet to authorise/,
    );
    expect(explainError(new ProviderError("ESCROW_CLOSING", "x"))).toMatch(
      /Deposit again in Wallet to reopen it/,
    );
    expect(explainError(new ProviderError("ENGINE", "odd"))).toMatch(/ENGINE.*Press Regenerate/);
    expect(explainError(new ProviderError("CONTEXT_LENGTH_EXCEEDED", "x"))).toMatch(/Start a new chat/);
    expect(explainError(new ProviderError("UNSUPPORTED", "x"))).toMatch(/pick another model/);
    expect(explainError(new EscrowNotReadyError("Connect a TON wallet"))).toBe("Connect a TON wallet");
    expect(explainError(new Error("secret prompt text"))).not.toMatch(/secret/);
  });

  it("a chat that cannot start says why in words and what to do, never the browser's raw message", () => {
    const reload = /\. Check the connection, then reload the page\.$/;
    for (const [err, why] of [
      [
        new TypeError("Failed to fetch dynamically imported module: https://x/chat-core-1.js"),
        "did not download",
      ],
      [new TypeError("Importing a module script failed."), "did not download"],
      [new TypeError("Failed to fetch"), "server does not answer"],
      [Object.assign(new Error("The operation failed"), { name: "UnknownError" }), "keep its data"],
      [new Error("IndexedDB is not available"), "keep its data"],
      [new Error("secret prompt text"), "it hit an error"],
      ["not an error", "it hit an error"],
    ] as const) {
      const text = startProblem(err);
      expect(text).toMatch(/^Silk could not start: /);
      expect(text).toContain(why);
      expect(text).toMatch(reload);
      expect(text).not.toMatch(/secret|https:/);
    }
  });

  it("Telegram theme colours map to the widget's variables, faint text colours darken until they read, still not the text colour", () => {
    expect(contrastRatio("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrastRatio("#fff", "#ffffff")).toBeCloseTo(1, 5);
    const vars = themeVariables({
      bg_color: "#ffffff",
      text_color: "#000000",
      hint_color: "#999999", // 2.8:1 on white
      button_color: "#2481cc", // 4.2:1 with white
      button_text_color: "#ffffff",
      link_color: "javascript:alert(1)", // not a colour: ignored
    });
    const dark = themeVariables({
      bg_color: "#17212b",
      text_color: "#f5f5f5",
      button_color: "#5288c1",
      button_text_color: "#ffffff",
    });
    expect(dark["--silk-accent"]).toBe("#5288c1");
    expect(dark["--silk-accent-fg"]).toBe("#f5f5f5"); // white on #5288c1 is 3.7:1; the text colour reads
    expect(vars).toEqual({
      "--silk-bg": "#ffffff",
      "--silk-fg": "#000000",
      // Hint grey and button blue moved toward black just until they read: a placeholder in the
      // muted colour does not look like typed text.
      "--silk-muted": "#737373",
      "--silk-accent": "#2481cc",
      "--silk-accent-fg": "#000000",
      "--silk-accent-text": "#2074b8",
      "--silk-danger": "#a4161a",
    });
    // With Telegram's panel grey too, they must read on both.
    const light = themeVariables({ ...TELEGRAM_LIGHT_THEME });
    for (const name of ["--silk-muted", "--silk-link", "--silk-accent-text"]) {
      expect(light[name], name).not.toBe(light["--silk-fg"]);
      for (const on of [light["--silk-bg"]!, light["--silk-panel"]!])
        expect(contrastRatio(light[name]!, on), `${name} on ${on}`).toBeGreaterThanOrEqual(4.5);
    }
    expect(contrastRatio(light["--silk-muted"]!, light["--silk-fg"]!)).toBeGreaterThan(2);
  });
});

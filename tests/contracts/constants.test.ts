import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseTolkConstants, renderConstants } from "../../contracts/codegen";
import { CONTRACTS_DIR } from "../../contracts/compile";
import { EscrowOp } from "../../contracts/generated/constants";
import { RECEIPT_TAG } from "../../protocol/receipt";

describe("constants shared by the contracts and TypeScript", () => {
  it("the generated file is exactly what the .tolk sources say (run npm run contracts:build)", () => {
    expect(readFileSync(join(CONTRACTS_DIR, "generated", "constants.ts"), "utf8")).toBe(renderConstants());
  });

  it("the receipt tag in the contract is the one protocol/ signs", () => {
    expect(EscrowOp.Receipt).toBe(RECEIPT_TAG);
  });

  it("parses enums, opcodes and parameters, and refuses a duplicated exit code", () => {
    const c = parseTolkConstants(
      'enum E {\n  A = 201 // x\n  B = 0x10\n}\nstruct (0x0000abcd) M {\n}\nconst P = ton("0.015")\nconst Q = 12\n',
    );
    expect(c).toEqual({
      enums: { E: { A: 201, B: 16 } },
      opcodes: { M: 0xabcd },
      params: { P: 15_000_000n, Q: 12n },
    });
    const dup = (p: string) => (p.endsWith("errors.tolk") ? "enum X {\n  A = 201\n  B = 201\n}\n" : "");
    expect(() => renderConstants(dup)).toThrow(/exit code 201/);
  });
});

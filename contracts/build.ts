/**
 * `npm run contracts:build`: compiles every contract from source into `contracts/build/`
 * (gitignored, regenerated) and regenerates `contracts/generated/constants.ts` and
 * `registry-address.ts` and `code-hashes.ts`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderCodeHashes, renderConstants, renderRegistryAddress } from "./codegen";
import { CONTRACT_SOURCES, CONTRACTS_DIR, type ContractName, compileContract, compiled } from "./compile";
import { compiledRegistryAddress } from "./deployment-record";

mkdirSync(join(CONTRACTS_DIR, "generated"), { recursive: true });
writeFileSync(join(CONTRACTS_DIR, "generated", "constants.ts"), renderConstants());
writeFileSync(
  join(CONTRACTS_DIR, "generated", "registry-address.ts"),
  renderRegistryAddress(await compiledRegistryAddress()),
);
const [escrow, providerEntry] = await Promise.all([compiled("escrow"), compiled("providerEntry")]);
writeFileSync(
  join(CONTRACTS_DIR, "generated", "code-hashes.ts"),
  renderCodeHashes({ escrow: escrow.codeHashHex, providerEntry: providerEntry.codeHashHex }),
);

const outDir = join(CONTRACTS_DIR, "build");
mkdirSync(outDir, { recursive: true });
for (const name of Object.keys(CONTRACT_SOURCES) as ContractName[]) {
  const c = await compileContract(name);
  const artefact = {
    name,
    tolkVersion: c.tolkVersion,
    codeHashHex: c.codeHashHex,
    codeBoc64: c.code.toBoc().toString("base64"),
  };
  writeFileSync(join(outDir, `${name}.compiled.json`), `${JSON.stringify(artefact, null, 2)}\n`);
  console.log(`${name}: ${c.codeHashHex} (tolk ${c.tolkVersion})`);
}

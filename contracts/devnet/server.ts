/**
 * The devnet over HTTP: the subset of toncenter's v2 JSON-RPC API that `@ton/ton`'s TonClient
 * calls (getAddressInformation, runGetMethod, sendBoc, getTransactions, getMasterchainInfo), a
 * faucet, and a description of what is deployed. Point TonClient at `${url}/jsonRPC`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ChainRefusedError, DEVNET_GLOBAL_ID, DevnetChain, parseAddress } from "./chain";
import { friendly, stackEntryIn, stackEntryOut, transactionJson, ZERO_BLOCK } from "./toncenter";

const MAX_BODY_BYTES = 1024 * 1024;

export interface DevnetOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Where the chain is saved; without it the chain lives in memory only. */
  dataDir?: string;
  /** Unix seconds; the chain's clock never goes back. */
  clock?: () => number;
}

export interface Devnet {
  /** Base URL, e.g. http://127.0.0.1:8081 */
  readonly url: string;
  /** The JSON-RPC endpoint to give TonClient. */
  readonly endpoint: string;
  readonly chain: DevnetChain;
  /** The same API as a request handler, to mount under another server (paths as above). */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ChainRefusedError("request too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

type Params = Record<string, unknown>;

async function call(chain: DevnetChain, method: string, p: Params): Promise<unknown> {
  switch (method) {
    case "getAddressInformation": {
      const a = await chain.account(parseAddress(p.address));
      return {
        "@type": "raw.fullAccountState",
        balance: a.balance.toString(),
        extra_currencies: [],
        state: a.state,
        code: a.code ? a.code.toBoc().toString("base64") : "",
        data: a.data ? a.data.toBoc().toString("base64") : "",
        last_transaction_id: {
          "@type": "internal.transactionId",
          lt: a.last ? a.last.lt.toString() : "0",
          hash: a.last ? a.last.hash.toString("base64") : Buffer.alloc(32).toString("base64"),
        },
        block_id: { ...ZERO_BLOCK, seqno: a.now },
        sync_utime: a.now,
      };
    }
    case "runGetMethod": {
      const stack = Array.isArray(p.stack) ? p.stack.map(stackEntryIn) : [];
      const r = await chain.runGetMethod(parseAddress(p.address), String(p.method), stack);
      return {
        "@type": "smc.runResult",
        gas_used: r.gasUsed,
        exit_code: r.exitCode,
        stack: r.stack.map(stackEntryOut),
      };
    }
    case "sendBoc": {
      if (typeof p.boc !== "string") throw new ChainRefusedError("boc missing");
      await chain.sendBoc(Buffer.from(p.boc, "base64"));
      return { "@type": "ok" };
    }
    case "getTransactions": {
      const limit = Math.min(Math.max(Number(p.limit ?? 10), 1), 100);
      const lt = p.lt !== undefined && p.lt !== null ? BigInt(String(p.lt)) : undefined;
      return chain.transactions(parseAddress(p.address), limit, lt).map(transactionJson);
    }
    case "getMasterchainInfo": {
      const last = { ...ZERO_BLOCK, seqno: chain.now };
      return {
        "@type": "blocks.masterchainInfo",
        state_root_hash: ZERO_BLOCK.root_hash,
        last,
        init: { ...ZERO_BLOCK, seqno: 0 },
      };
    }
    case "getConfigParam": {
      // toncenter's form: the parameter's value cell, which @ton/ton's configParse* functions read.
      const param = chain.configParam(Number(p.config_id));
      if (!param) throw new ChainRefusedError(`config param ${String(p.config_id)} is not set`);
      return {
        "@type": "configInfo",
        config: { "@type": "tvm.cell", bytes: param.toBoc().toString("base64") },
      };
    }
    case "faucet": {
      await chain.faucet(parseAddress(p.address), BigInt(String(p.amount ?? "0")));
      return { "@type": "ok" };
    }
    default:
      throw new ChainRefusedError(`method ${method} is not served by the devnet`);
  }
}

/** Any page may call the devnet (it holds only test TON): CORS for every origin. */
const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "content-type, x-api-key",
};

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", ...CORS });
  res.end(JSON.stringify(body));
}

/**
 * The devnet's HTTP handler (`/healthz`, `/devnet`, `/faucet`, `/jsonRPC`), for its own server and
 * for mounting under another one (`npm start` serves it at `/ton` on the pages' origin).
 */
export function devnetHandler(chain: DevnetChain): (req: IncomingMessage, res: ServerResponse) => void {
  const info = () => ({
    globalId: DEVNET_GLOBAL_ID,
    registry: friendly(chain.registry),
    escrowCode: chain.escrowCode.toBoc().toString("base64"),
    providerEntryCode: chain.providerEntryCode.toBoc().toString("base64"),
  });
  return (req, res) => {
    void (async () => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "OPTIONS") return void res.writeHead(204, CORS).end();
      if (req.method === "GET" && path === "/healthz") return send(res, 200, { ok: true });
      if (req.method === "GET" && path === "/devnet") return send(res, 200, { ok: true, result: info() });
      if (req.method !== "POST") return send(res, 404, { ok: false, error: "not found" });
      let id: unknown = "1";
      try {
        const body = JSON.parse(await readBody(req)) as {
          id?: unknown;
          method?: unknown;
          params?: unknown;
          address?: unknown;
          amount?: unknown;
        };
        if (path === "/faucet") {
          await chain.faucet(parseAddress(body.address), BigInt(String(body.amount ?? "0")));
          return send(res, 200, { ok: true, result: { "@type": "ok" } });
        }
        if (path !== "/jsonRPC" && path !== "/api/v2/jsonRPC")
          return send(res, 404, { ok: false, error: "not found" });
        id = body.id ?? "1";
        const params = (body.params && typeof body.params === "object" ? body.params : {}) as Params;
        const result = await call(chain, String(body.method), params);
        send(res, 200, { ok: true, result, id, jsonrpc: "2.0" });
      } catch (err) {
        const known = err instanceof ChainRefusedError || err instanceof SyntaxError;
        const message = known ? (err as Error).message : "internal error";
        const exitCode = err instanceof ChainRefusedError ? err.exitCode : undefined;
        send(res, known ? 200 : 500, {
          ok: false,
          error: message,
          code: exitCode ?? (known ? 400 : 500),
          id,
          jsonrpc: "2.0",
        });
      }
    })();
  };
}

/** Starts the devnet in this process; resolves once it listens and the contracts are deployed. */
export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const chain = await DevnetChain.open({ dataDir: opts.dataDir, clock: opts.clock });
  const handle = devnetHandler(chain);
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== "0.0.0.0" ? opts.host : "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url,
    endpoint: `${url}/jsonRPC`,
    chain,
    handle,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await chain.close();
    },
  };
}

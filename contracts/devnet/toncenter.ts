/**
 * The JSON shapes of toncenter's v2 JSON-RPC API, as `@ton/ton`'s HttpApi parses them
 * (node_modules/@ton/ton/dist/client/api/HttpApi.js), built from sandbox objects.
 */
import {
  type Address,
  beginCell,
  Cell,
  type Message,
  storeMessage,
  type Transaction,
  type TupleItem,
} from "@ton/core";

export interface ToncenterMessage {
  source: string;
  destination: string;
  value: string;
  fwd_fee: string;
  ihr_fee: string;
  created_lt: string;
  body_hash: string;
  msg_data: { "@type": "msg.dataRaw"; body: string };
  message: string;
}

const b64 = (c: Cell) => c.toBoc().toString("base64");

export function messageJson(m: Message): ToncenterMessage {
  const info = m.info;
  const body = m.body;
  const base = {
    body_hash: body.hash().toString("base64"),
    msg_data: { "@type": "msg.dataRaw" as const, body: b64(body) },
    message: b64(beginCell().store(storeMessage(m)).endCell()),
  };
  if (info.type === "internal") {
    return {
      source: info.src.toString(),
      destination: info.dest.toString(),
      value: info.value.coins.toString(),
      fwd_fee: info.forwardFee.toString(),
      ihr_fee: info.ihrFee.toString(),
      created_lt: info.createdLt.toString(),
      ...base,
    };
  }
  if (info.type === "external-in") {
    return {
      source: "",
      destination: info.dest.toString(),
      value: "0",
      fwd_fee: "0",
      ihr_fee: "0",
      created_lt: "0",
      ...base,
    };
  }
  return {
    source: info.src.toString(),
    destination: "",
    value: "0",
    fwd_fee: "0",
    ihr_fee: "0",
    created_lt: info.createdLt.toString(),
    ...base,
  };
}

export function transactionJson(tx: Transaction) {
  const storageFee =
    tx.description.type === "generic" && tx.description.storagePhase
      ? tx.description.storagePhase.storageFeesCollected
      : 0n;
  return {
    "@type": "raw.transaction",
    data: b64(tx.raw),
    utime: tx.now,
    transaction_id: {
      "@type": "internal.transactionId",
      lt: tx.lt.toString(),
      hash: tx.hash().toString("base64"),
    },
    fee: tx.totalFees.coins.toString(),
    storage_fee: storageFee.toString(),
    other_fee: (tx.totalFees.coins - storageFee).toString(),
    in_msg: tx.inMessage ? messageJson(tx.inMessage) : undefined,
    out_msgs: [...tx.outMessages.values()].map(messageJson),
  };
}

type StackEntry = [string, unknown];

/** A request stack entry (["num", "123"], ["tvm.Slice", boc], ...) as a sandbox tuple item. */
export function stackEntryIn(e: unknown): TupleItem {
  if (!Array.isArray(e) || typeof e[0] !== "string") throw new Error("malformed stack entry");
  const [type, value] = e as [string, unknown];
  switch (type) {
    case "num": {
      const text = String(value);
      return { type: "int", value: text.startsWith("-") ? -BigInt(text.slice(1)) : BigInt(text) };
    }
    case "tvm.Cell":
      return { type: "cell", cell: Cell.fromBase64(String(value)) };
    case "tvm.Slice":
      return { type: "slice", cell: Cell.fromBase64(String(value)) };
    case "tvm.Builder":
      return { type: "builder", cell: Cell.fromBase64(String(value)) };
    default:
      throw new Error(`unsupported stack entry type ${type}`);
  }
}

/** A result stack item in toncenter's form, which TonClient's parseStack reads back. */
export function stackEntryOut(item: TupleItem): StackEntry {
  switch (item.type) {
    case "int":
      return ["num", item.value < 0n ? `-0x${(-item.value).toString(16)}` : `0x${item.value.toString(16)}`];
    case "null":
      return ["null", null];
    case "cell":
      return ["cell", { bytes: b64(item.cell) }];
    case "slice":
      return ["slice", { bytes: b64(item.cell) }];
    case "builder":
      return ["builder", { bytes: b64(item.cell) }];
    case "tuple":
      return ["tuple", { elements: item.items.map(tupleElementOut) }];
    default:
      throw new Error(`unsupported result stack item ${item.type}`);
  }
}

/** Elements nested in a tuple use toncenter's typed-object form (TonClient's parseStackEntry). */
function tupleElementOut(item: TupleItem): unknown {
  switch (item.type) {
    case "int":
      return {
        "@type": "tvm.stackEntryNumber",
        number: { "@type": "tvm.numberDecimal", number: item.value.toString() },
      };
    case "cell":
      return { "@type": "tvm.stackEntryCell", cell: { "@type": "tvm.cell", bytes: b64(item.cell) } };
    case "slice":
      return { "@type": "tvm.stackEntrySlice", slice: { "@type": "tvm.slice", bytes: b64(item.cell) } };
    case "tuple":
      return {
        "@type": "tvm.stackEntryTuple",
        tuple: { "@type": "tvm.tuple", elements: item.items.map(tupleElementOut) },
      };
    default:
      throw new Error(`unsupported tuple element ${item.type}`);
  }
}

export const ZERO_BLOCK = {
  "@type": "ton.blockIdExt" as const,
  workchain: -1,
  shard: "-9223372036854775808",
  root_hash: Buffer.alloc(32).toString("base64"),
  file_hash: Buffer.alloc(32).toString("base64"),
};

export function friendly(a: Address): string {
  return a.toString({ testOnly: true, bounceable: true });
}

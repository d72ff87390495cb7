import { DEFAULT_CONFIG, envName, flagName, NUMBER_KEYS, TEXT_SETTINGS } from "./config";

/** What each setting that is not a number takes (numbers say their default). */
const TEXT_HELP: Record<(typeof TEXT_SETTINGS)[number], string> = {
  HOST: "address to listen on (default 0.0.0.0)",
  REDIS_URL: "share the directory and rooms through Redis (several URLs: a cluster)",
  REDIS_CLUSTER: "true: REDIS_URL names one node of a Redis Cluster",
  REDIS_PREFIX: "prefix of every Redis key (default silk:)",
  STATIC_DIR: "serve the built pages from this folder",
  LOG_LEVEL: "pino's level (default info)",
  RESUME_SECRET: "signs resume tickets; the same on every node (16+ characters)",
  RESUME_SECRET_FILE: "where a node keeps its own secret (default .silk/resume-secret)",
  SERVER_KEY_FILE:
    "the Ed25519 key signing grants, made on first start; the same on every node (default .silk/server-key)",
  TRUST_PROXY: "true: take the client's address from X-Forwarded-For",
  ALLOWED_ORIGINS: "comma-separated browser origins allowed to connect (default any)",
  TRANSPORTS: "websocket and/or polling (default websocket)",
  ICE_SERVERS: "a JSON array of RTCIceServer handed to both peers",
  STUN_URLS: "comma-separated STUN URLs (instead of ICE_SERVERS)",
  TURN_URLS: "comma-separated TURN URLs (instead of ICE_SERVERS)",
  TURN_USERNAME: "the TURN servers' username",
  TURN_CREDENTIAL: "the TURN servers' credential",
};

/**
 * `--help` of the programs that run the signaling server (`npm run signaling`, `npm start`):
 * every setting, as a flag and as its environment variable, from config.ts's own lists.
 */
export function signalingUsage(program: string, extra = ""): string {
  const rows = [
    ...TEXT_SETTINGS.map((name) => [`${flagName(name)} VALUE`, `${TEXT_HELP[name]}  (${name})`]),
    ...NUMBER_KEYS.map((key) => {
      const name = envName(key);
      return [`${flagName(name)} N`, `default ${DEFAULT_CONFIG[key]}  (${name})`];
    }),
  ];
  const width = Math.max(...rows.map(([flag]) => flag!.length));
  return [
    `Usage: ${program} [--setting VALUE | --setting=VALUE ...]`,
    "",
    "Each setting is a flag or an environment variable (the flag wins); see signaling/README.md.",
    ...(extra ? ["", extra] : []),
    "",
    ...rows.map(([flag, help]) => `  ${flag!.padEnd(width)}  ${help}`),
  ].join("\n");
}

/** `--help` or `-h` anywhere among the arguments. */
export const asksHelp = (argv: readonly string[]) => argv.includes("--help") || argv.includes("-h");

/**
 * Upstash's own Lua shebang flag, `allow-key-locking`, for the local Upstash
 * proxy. Upstash runs a script that declares it under locks of its `KEYS`
 * only instead of its global lock; `@upstash/ratelimit` (2.1 and later)
 * puts `#!lua flags=allow-key-locking` on every script. Redis does not know
 * the flag and refuses the script ("Unexpected flag in script shebang"),
 * so the proxy removes it before Redis sees the script: dropping it only
 * gives up an Upstash locking optimisation (serverless-redis-http #40).
 *
 * Clients address scripts by the SHA1 of the text they sent (`EVALSHA`,
 * `SCRIPT EXISTS`, the answer of `SCRIPT LOAD`), while Redis knows the SHA1
 * of the text without the flag: the translator remembers one for the other,
 * so `EVALSHA` of the client's SHA runs the script Redis loaded.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

/** A command argument as sent to Redis. */
type Arg = string | Buffer;

/** Flags Upstash accepts in a Lua shebang that Redis refuses. */
const UPSTASH_ONLY_FLAGS: ReadonlySet<string> = new Set(["allow-key-locking"]);

const SHEBANG = /^#!lua\b([^\n]*)/;

function _sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/**
 * `script` without Upstash-only shebang flags, or null when it has none.
 *
 * @example
 * ```ts
 * stripUpstashFlags("#!lua flags=allow-key-locking\nreturn 1"); // "#!lua\nreturn 1"
 * ```
 */
export function stripUpstashFlags(script: string): string | null {
  const match = SHEBANG.exec(script);
  if (!match) return null;
  const options = match[1]!.trim().split(/\s+/).filter(Boolean);
  let changed = false;
  const kept = options.map((option) => {
    if (!option.startsWith("flags=")) return option;
    const flags = option.slice("flags=".length).split(",").filter(Boolean);
    const redisFlags = flags.filter((flag) => !UPSTASH_ONLY_FLAGS.has(flag));
    if (redisFlags.length === flags.length) return option;
    changed = true;
    return redisFlags.length > 0 ? `flags=${redisFlags.join(",")}` : "";
  }).filter(Boolean);
  if (!changed) return null;
  return `#!lua${kept.length > 0 ? ` ${kept.join(" ")}` : ""}${script.slice(match[0].length)}`;
}

/** A command to send, and how to turn Redis' reply into the one the client expects. */
export interface TranslatedCommand {
  command: readonly Arg[];
  reply?: (reply: unknown) => unknown;
}

/** Rewrites script commands for Redis (one per proxy: it remembers the SHAs it has seen). */
export interface ScriptFlagTranslator {
  translate(command: readonly Arg[]): TranslatedCommand;
}

/** Creates a translator. */
export function createScriptFlagTranslator(): ScriptFlagTranslator {
  // SHA1 of the client's text → SHA1 of the text Redis runs.
  const redisSha = new Map<string, string>();

  const strip = (arg: Arg | undefined): { stripped: string; clientSha: string } | null => {
    if (arg === undefined) return null;
    const text = typeof arg === "string" ? arg : arg.toString("utf8");
    const stripped = stripUpstashFlags(text);
    if (stripped === null) return null;
    const clientSha = _sha1(text);
    redisSha.set(clientSha, _sha1(stripped));
    return { stripped, clientSha };
  };
  const sha = (arg: Arg | undefined): Arg | undefined => {
    if (arg === undefined) return arg;
    const text = typeof arg === "string" ? arg : arg.toString("utf8");
    return redisSha.get(text.toLowerCase()) ?? arg;
  };

  return {
    translate(command) {
      const [name, ...args] = command;
      const lower = (typeof name === "string" ? name : name?.toString("utf8") ?? "").toLowerCase();
      switch (lower) {
        case "eval":
        case "eval_ro": {
          const script = strip(args[0]);
          return script ? { command: [name!, script.stripped, ...args.slice(1)] } : { command };
        }
        case "evalsha":
        case "evalsha_ro":
          return { command: [name!, sha(args[0])!, ...args.slice(1)] };
        case "script": {
          const sub = (typeof args[0] === "string" ? args[0] : args[0]?.toString("utf8") ?? "").toLowerCase();
          if (sub === "load") {
            const script = strip(args[1]);
            if (!script) return { command };
            // Upstash answers the SHA1 of the text it was sent.
            return { command: [name!, args[0]!, script.stripped], reply: () => Buffer.from(script.clientSha) };
          }
          if (sub === "exists") return { command: [name!, args[0]!, ...args.slice(1).map((a) => sha(a)!)] };
          return { command };
        }
        default:
          return { command };
      }
    },
  };
}

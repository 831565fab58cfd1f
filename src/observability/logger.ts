/**
 * Structured logs: one JSON object per line, with a level, a message and
 * fields. Fields whose name looks like a secret are redacted, so a careless
 * caller cannot leak a key or a token into the logs; so are e-mail
 * addresses (personal data: lines name users by id). Every line also
 * carries the current request's context (`request_id`, `user_id`; see
 * `log_context.ts`), so the use cases' lines can be found from a request.
 *
 * @module
 */
import { currentLogContext } from "./log_context.ts";

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are never written: secrets, and e-mail addresses (personal data). */
const SECRET_FIELD = /authorization|password|secret|token|api_?key|signature|cookie|jwt|e_?mail/i;

/** A structured logger. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. @default "info" */
  level?: LogLevel;
  /** Where lines go. @default console.log / console.error */
  write?: (line: string, level: LogLevel) => void;
  /** Clock for the `time` field. @default () => new Date() */
  now?: () => Date;
}

/**
 * Creates a JSON-lines logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "debug" });
 * log.child({ request_id: "r1" }).info("payment credited", { reference: "pay-1" });
 * ```
 */
export function createLogger(
  { level = "info", write = _defaultWrite, now = () => new Date() }: LoggerOptions = {},
  base: Record<string, unknown> = {},
): Logger {
  const emit = (lvl: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[lvl] < LEVELS[level]) return;
    const line = JSON.stringify({
      time: now().toISOString(),
      level: lvl,
      msg: message,
      ...redact({ ...currentLogContext(), ...base, ...fields }),
    });
    write(line, lvl);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ level, write, now }, { ...base, ...fields }),
  };
}

/** A logger that writes nothing (tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ write: () => {} });

/**
 * Returns a copy of `fields` with secret-looking fields replaced by
 * `[redacted]` and errors reduced to name and message (no stack).
 */
export function redact(fields: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(key)) out[key] = "[redacted]";
    else if (value instanceof Error) out[key] = { name: value.name, message: value.message };
    else if (value && typeof value === "object" && !Array.isArray(value) && depth < 3) {
      out[key] = redact(value as Record<string, unknown>, depth + 1);
    } else out[key] = value;
  }
  return out;
}

function _defaultWrite(line: string, level: LogLevel): void {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

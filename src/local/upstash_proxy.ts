/**
 * A local stand-in for Upstash Redis: speaks Upstash's REST protocol (`POST /`,
 * `POST /pipeline`, `POST /multi-exec`, the path form `GET /get/key`, bearer
 * auth, `Upstash-Encoding: base64`, `upstash-sync-token`) in front of a real Redis, so `@upstash/redis` and
 * `@upstash/lock` run unchanged over real HTTP in development and tests
 * (the same idea as Upstash's serverless-redis-http). Checklist:
 * `reference/upstash-rest.md`.
 *
 * Path form (`GET /get/key`, `POST /set/key` with the value as the body,
 * `/incr/counter`): see `_pathCommand`; same auth, refusals and encoding as
 * `POST /`. A path-form GET runs writes too, as Upstash's do, which is why the
 * browser checks below cover navigations and images as well.
 *
 * Status codes: 200 success (and every /pipeline, /multi-exec whose items ran),
 * 400 a Redis error reply or a malformed/refused command, 401 bad token,
 * 403 a browser request from an origin not explicitly allowed, 405 a wrong
 * method (any other path is the path form, so an unknown one is Redis'
 * "unknown command", 400), 503 Redis unreachable (the request may not have
 * run), 500 a proxy bug. Every body is JSON.
 *
 * Browsers: the dev token is public (it is in the source), so any web page
 * could otherwise drive the developer's Redis with cross-site requests, e.g. a
 * form or `fetch(..., { mode: "no-cors" })` POST to `http://127.0.0.1:8079`,
 * which needs no preflight. Every request that carries an `Origin` header is
 * refused (403) unless that origin is listed in `allowedOrigins` (none by
 * default; server-side clients such as `@upstash/redis` in Deno send no
 * `Origin`). A browser request without `Origin` (a navigation, an `<img>`)
 * still carries `Sec-Fetch-Site`: anything but `none` (typed by the user) is
 * refused the same way, `same-origin` included, since this server has no page
 * of its own and a same-origin request can only come from DNS rebinding. CORS
 * preflights (`OPTIONS`) are answered only for allowed origins, and their
 * responses carry `Access-Control-Allow-Origin`. Upstash itself answers CORS
 * for any origin; the stand-in deliberately does not.
 *
 * Replies are read from Redis as raw Buffers (no ioredis reply transformers,
 * no string decoding), so RESP2 shapes and binary values reach the client
 * exactly as Redis sent them.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Command, Redis, ReplyError } from "ioredis";
import { createScriptFlagTranslator } from "./upstash_script_flags.ts";

/** Options of {@linkcode createUpstashProxy}. */
export interface UpstashProxyOptions {
  /** Redis to forward to, e.g. `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** The bearer token clients must present (`Authorization: Bearer <token>` or `?_token=`). */
  token: string;
  /**
   * How long to wait for a TCP connection to Redis before failing the request.
   * @default 2000
   */
  connectTimeoutMs?: number;
  /**
   * Browser origins (`scheme://host[:port]`, compared exactly after URL
   * normalisation) whose requests are served, with CORS headers. Any other
   * request that carries `Origin` (or a `Sec-Fetch-Site` other than `none`)
   * is refused with 403.
   * @default [] (no browser may call the proxy)
   */
  allowedOrigins?: readonly string[];
}

/** An Upstash-REST-compatible request handler over one Redis. */
export interface UpstashProxy {
  /** Handles one HTTP request; never throws (failures become JSON error responses). */
  fetch(req: Request): Promise<Response>;
  /** Disconnects every Redis connection the proxy opened. */
  close(): Promise<void>;
}

/** Options of {@linkcode serveUpstashProxy}. */
export interface ServeUpstashProxyOptions extends UpstashProxyOptions {
  /** TCP port; `0` picks a free one (tests). */
  port: number;
  /**
   * Interface to bind.
   * @default "127.0.0.1"
   */
  hostname?: string;
}

/** A running proxy server. */
export interface ServedUpstashProxy {
  /** Base URL to give `new Redis({ url })`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Stops the HTTP server, then disconnects from Redis. */
  close(): Promise<void>;
}

/** A command argument as the client may send it in JSON. */
type JsonArg = string | number | boolean;

/** A command argument as sent to Redis: text, or the raw bytes of a path-form POST body. */
type Arg = string | Buffer;

/** A Redis reply as ioredis' parser delivers it with Buffer replies. */
type RawReply = Buffer | number | null | RawReply[] | Error;

/** A reply rendered for JSON. */
type JsonReply = string | number | null | JsonReply[];

/** The error text Upstash answers with on a missing or wrong token. */
const UNAUTHORIZED = "Unauthorized: missing or invalid bearer token";

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Commands the REST model cannot carry: one HTTP request is one exchange on a
 * shared connection, so anything that blocks it, changes its state for later
 * requests, or turns it into a push stream is refused (Upstash refuses them too).
 */
const REFUSED_COMMANDS: ReadonlySet<string> = new Set([
  // push / streaming modes
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  // connection state that would leak into other requests
  "select",
  "quit",
  "reset",
  "auth",
  "hello",
  // transactions are only available as a whole, through /multi-exec
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  // blocking: would stall every request sharing the connection
  "blpop",
  "brpop",
  "brpoplpush",
  "blmove",
  "blmpop",
  "bzpopmin",
  "bzpopmax",
  "bzmpop",
  "wait",
  "waitaof",
]);

/**
 * Commands Upstash does not offer at all: its compatibility table
 * (upstash.com/docs/redis/overall/rediscompatibility) lists, of the server
 * group, only ACL, DBSIZE, FLUSHALL, FLUSHDB and TIME (plus INFO, used in its
 * REST docs), marks the cluster group unsupported, and has no functions,
 * MOVE or MIGRATE. Code that works against the proxy must work against
 * Upstash, and against a real Redis these would reconfigure, persist, stop,
 * replicate or debug the developer's server with a token that is public.
 * ACL is the one deliberate difference: Upstash's ACL manages its own users,
 * a real Redis's ACL would rewrite the server's (and list their passwords).
 */
const UNSUPPORTED_COMMANDS: ReadonlySet<string> = new Set([
  // server administration
  "acl",
  "bgrewriteaof",
  "bgsave",
  "command",
  "config",
  "debug",
  "failover",
  "lastsave",
  "latency",
  "lolwut",
  "memory",
  "module",
  "monitor",
  "psync",
  "replconf",
  "replicaof",
  "restore-asking",
  "role",
  "save",
  "shutdown",
  "slaveof",
  "slowlog",
  "swapdb",
  "sync",
  // cluster
  "asking",
  "cluster",
  "readonly",
  "readwrite",
  // other databases and servers
  "migrate",
  "move",
  // server-side functions (Redis 7): FUNCTION LOAD/FLUSH change every client's code
  "fcall",
  "fcall_ro",
  "function",
  // HyperLogLog internals
  "pfdebug",
  "pfselftest",
]);

/** CLIENT subcommands that only read; the rest (REPLY, SETNAME, PAUSE, KILL, ...) change shared state. */
const CLIENT_READ_SUBCOMMANDS: ReadonlySet<string> = new Set(["list", "info", "id", "getname"]);

/** The SCRIPT subcommands Upstash offers; KILL and DEBUG are not among them. */
const SCRIPT_SUBCOMMANDS: ReadonlySet<string> = new Set(["exists", "load", "flush"]);

/** Upper bound of idle dedicated connections kept for /multi-exec. */
const MAX_IDLE_TRANSACTION_CONNECTIONS = 4;

/**
 * ioredis Command that hands back the parser's reply untouched: no
 * `hgetall` → object transformer, no Buffer → string decoding.
 */
class _RawCommand extends Command {
  override transformReply(result: Buffer | Buffer[]): Buffer | Buffer[] {
    return result;
  }
}

/** A request-level failure, rendered as `{"error": message}` with `status`. */
class _HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function _isReplyError(error: unknown): error is Error {
  return error instanceof ReplyError;
}

function _errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Validates one command from the request body and returns it with every
 * argument as a string (Redis only knows bulk strings).
 */
function _parseCommand(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new _HttpError(400, "ERR failed to parse command: expected a non-empty JSON array");
  }
  return value.map((arg: unknown) => {
    switch (typeof arg) {
      case "string":
        return arg;
      case "number":
      case "boolean":
        return String(arg satisfies JsonArg);
      default:
        throw new _HttpError(400, "ERR failed to parse command: arguments must be strings, numbers or booleans");
    }
  });
}

function _parseCommandList(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new _HttpError(400, "ERR failed to parse pipeline request: expected a non-empty JSON array of commands");
  }
  return value.map(_parseCommand);
}

/**
 * The error of a command Upstash does not offer, in Upstash's shape (400,
 * `{"error": "ERR …"}`: "an invalid/unsupported command is sent", REST API
 * docs). Its docs do not quote the text; this one names the command in upper
 * case, e.g. `ERR Command is not available: 'CONFIG'`.
 */
function _unsupported(command: string): string {
  return `ERR Command is not available: '${command.toUpperCase()}'`;
}

/** Methods of the path form (Upstash: "Only HEAD, GET, POST and PUT methods are allowed"). */
const PATH_FORM_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT"]);

function _decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new _HttpError(400, `ERR failed to parse ${what}: invalid percent-encoding in '${part}'`);
  }
}

/**
 * The command of a path-form request, as Upstash's REST docs define it:
 * `REST_URL/COMMAND/arg1/…/argN`, each segment URL-decoded (`%2F` is a slash
 * inside an argument, `+` stays a plus); then a POST/PUT body, when not empty,
 * as one more argument, byte for byte ("the request body is appended as the
 * last parameter", so JSON and binary values need no escaping); then the
 * query parameters other than `_token`, in order, `?EX=100` as `EX 100` and a
 * bare `?NX` as `NX` (how the docs pass options that follow a body value).
 * Trailing slashes are ignored, so an empty last argument needs the JSON form.
 */
function _pathCommand(path: string, search: string, body: Uint8Array | null): Arg[] {
  const command: Arg[] = path.slice(1).split("/").map((segment) => _decode(segment, "path"));
  if (body !== null && body.length > 0) command.push(Buffer.from(body));
  for (const part of search.replace(/^\?/, "").split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const [name, value] = eq < 0 ? [part, null] : [part.slice(0, eq), part.slice(eq + 1)];
    const key = _decode(name.replaceAll("+", " "), "query");
    if (key === "_token") continue;
    command.push(key);
    if (value !== null) command.push(_decode(value.replaceAll("+", " "), "query"));
  }
  return command;
}

/** An argument as text, for the refusal checks (bytes read as Latin-1, one char each). */
function _text(arg: Arg | undefined): string {
  return arg === undefined ? "" : typeof arg === "string" ? arg : arg.toString("latin1");
}

/** The reason a command is refused, or undefined when it may run. */
function _refusal(command: readonly Arg[]): string | undefined {
  const name = _text(command[0]).toLowerCase();
  if (REFUSED_COMMANDS.has(name)) {
    return `ERR Command is not available over REST: '${name}' (blocking, streaming or connection-state command)`;
  }
  if (UNSUPPORTED_COMMANDS.has(name)) return _unsupported(name);
  const sub = _text(command[1]).toLowerCase();
  if (name === "client" && !CLIENT_READ_SUBCOMMANDS.has(sub)) return _unsupported(`${name} ${sub}`.trim());
  if (name === "script" && !SCRIPT_SUBCOMMANDS.has(sub)) return _unsupported(`${name} ${sub}`.trim());
  // XREAD/XREADGROUP only block with the BLOCK option
  if ((name === "xread" || name === "xreadgroup") && command.some((arg) => _text(arg).toLowerCase() === "block")) {
    return `ERR Command is not available over REST: '${name}' with BLOCK`;
  }
  return undefined;
}

const OK_BYTES = Buffer.from("OK");
const _utf8 = new TextDecoder();

/**
 * Renders a raw reply for JSON. With base64 every string is encoded,
 * recursively, except `OK` (the client leaves `OK` as is and decodes the rest).
 * Error replies nested inside arrays (from EVAL) keep their text, unencoded.
 */
function _render(reply: RawReply, base64: boolean): JsonReply {
  if (reply === null || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((item) => _render(item, base64));
  if (reply instanceof Error) return reply.message;
  if (base64 && !reply.equals(OK_BYTES)) return reply.toString("base64");
  return _utf8.decode(reply);
}

function _json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json",
      // Upstash's read-your-writes token: the client echoes the last one back.
      // A single Redis is always consistent with itself, so any fresh value is faithful.
      "upstash-sync-token": crypto.randomUUID(),
    },
  });
}

function _timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i % y.length] ?? 0);
  return diff === 0;
}

/** `scheme://host[:port]` of a configured origin, as browsers serialise `Origin`. */
function _normaliseOrigin(origin: string): string {
  if (origin === "null") return origin;
  try {
    return new URL(origin).origin;
  } catch {
    throw new TypeError(`allowedOrigins: not an origin: ${origin}`);
  }
}

/**
 * Why a browser request is refused, or undefined when it may proceed: an
 * `Origin` not in `allowed`, or no `Origin` but a `Sec-Fetch-Site` other than
 * `none` (a cross-site or same-site navigation, image or other no-cors GET).
 */
function _browserRefusal(req: Request, allowed: ReadonlySet<string>): string | undefined {
  const origin = req.headers.get("origin");
  if (origin !== null) return allowed.has(origin) ? undefined : `Forbidden: origin ${origin} is not allowed`;
  const site = req.headers.get("sec-fetch-site");
  if (site !== null && site.toLowerCase() !== "none") return `Forbidden: ${site} browser request`;
  return undefined;
}

/** Adds the CORS headers of an allowed `origin` to `res`. */
function _withCors(res: Response, origin: string): Response {
  res.headers.set("access-control-allow-origin", origin);
  res.headers.set("access-control-expose-headers", "upstash-sync-token");
  res.headers.append("vary", "Origin");
  return res;
}

/** The answer to a CORS preflight from an allowed origin. */
function _preflight(req: Request): Response {
  const headers = new Headers({
    "access-control-allow-methods": "GET, HEAD, POST, PUT",
    "access-control-max-age": String(PREFLIGHT_MAX_AGE_SECONDS),
    "upstash-sync-token": crypto.randomUUID(),
  });
  const requested = req.headers.get("access-control-request-headers");
  if (requested) headers.set("access-control-allow-headers", requested);
  return new Response(null, { status: 204, headers });
}

function _authorized(req: Request, url: URL, token: string): boolean {
  const header = req.headers.get("authorization");
  const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  const presented = match?.[1] ?? url.searchParams.get("_token");
  return presented !== null && presented !== undefined && _timingSafeEqual(presented, token);
}

/**
 * Creates the Upstash REST handler over the Redis at `redisUrl`.
 *
 * Single commands and pipelines share one connection (ioredis writes each
 * request's commands back to back); every `/multi-exec` runs MULTI…EXEC on a
 * dedicated connection, so no other request's command can land inside it.
 *
 * @param options Redis URL and the bearer token to require.
 * @returns A `fetch` handler and `close()`.
 *
 * @example
 * ```ts
 * const proxy = createUpstashProxy({ redisUrl: "redis://127.0.0.1:6379", token: "dev" });
 * const res = await proxy.fetch(new Request("http://local/", {
 *   method: "POST",
 *   headers: { authorization: "Bearer dev" },
 *   body: JSON.stringify(["PING"]),
 * }));
 * // res.status === 200, await res.json() → { result: "PONG" }
 * await proxy.close();
 * ```
 */
export function createUpstashProxy(
  { redisUrl, token, connectTimeoutMs = 2000, allowedOrigins = [] }: UpstashProxyOptions,
): UpstashProxy {
  const origins: ReadonlySet<string> = new Set(allowedOrigins.map(_normaliseOrigin));
  const redisOptions = {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    // Fail a request after one reconnection attempt instead of holding it for
    // seconds: the REST client (and the app's degrading lock) must learn fast
    // that Redis is gone.
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 50, 1000),
    // A command already written when the connection dropped may have run:
    // re-sending it (ioredis' default) could apply an INCR twice.
    autoResendUnfulfilledCommands: false,
  };
  const connections = new Set<Redis>();
  const idleTransactionConnections: Redis[] = [];
  let closed = false;

  function connect(): Redis {
    const redis = new Redis(redisUrl, redisOptions);
    // Connection errors surface on the commands (→ 503); without a listener
    // ioredis would print every reconnect failure.
    redis.on("error", () => {});
    connections.add(redis);
    return redis;
  }

  const shared = connect();
  // Upstash's `allow-key-locking` script flag, which Redis refuses (see upstash_script_flags.ts).
  const scripts = createScriptFlagTranslator();

  function send(redis: Redis, command: readonly Arg[]): Promise<RawReply> {
    const translated = scripts.translate(command);
    const [name = "", ...args] = translated.command;
    const raw = new _RawCommand(_text(name).toLowerCase(), args);
    redis.sendCommand(raw);
    const reply = raw.promise as Promise<RawReply>;
    return translated.reply ? reply.then((r) => translated.reply!(r) as RawReply) : reply;
  }

  async function disconnect(redis: Redis): Promise<void> {
    connections.delete(redis);
    // Waiting between reconnect attempts there is no socket: disconnect() only
    // clears the timer and ioredis never emits "end".
    if (redis.status === "end" || redis.status === "reconnecting") {
      redis.disconnect();
      return;
    }
    // Otherwise wait for the socket to be closed, so no resource outlives close().
    const ended = new Promise<void>((resolve) => redis.once("end", () => resolve()));
    redis.disconnect();
    await ended;
  }

  async function single(command: readonly Arg[], base64: boolean): Promise<Response> {
    const refusal = _refusal(command);
    if (refusal) return _json(400, { error: refusal });
    try {
      return _json(200, { result: _render(await send(shared, command), base64) });
    } catch (error) {
      if (_isReplyError(error)) return _json(400, { error: error.message });
      throw new _HttpError(503, `ERR Redis unavailable: ${_errorText(error)}`);
    }
  }

  async function pipeline(commands: string[][], base64: boolean): Promise<Response> {
    // Not atomic: written back to back, each item answers for itself.
    const settled = await Promise.allSettled(commands.map((command) => {
      const refusal = _refusal(command);
      return refusal ? Promise.reject(new ReplyError(refusal)) : send(shared, command);
    }));
    const items = settled.map((outcome) => {
      if (outcome.status === "fulfilled") return { result: _render(outcome.value, base64) };
      if (_isReplyError(outcome.reason)) return { error: outcome.reason.message };
      throw new _HttpError(503, `ERR Redis unavailable: ${_errorText(outcome.reason)}`);
    });
    return _json(200, items);
  }

  async function multiExec(commands: string[][], base64: boolean): Promise<Response> {
    for (const command of commands) {
      const refusal = _refusal(command);
      if (refusal) return _json(400, { error: refusal });
    }
    const redis = idleTransactionConnections.pop() ?? connect();
    let reusable = true;
    try {
      // One write of MULTI, the commands and EXEC on a connection nobody else uses.
      const replies = [send(redis, ["multi"]), ...commands.map((command) => send(redis, command))];
      const exec = send(redis, ["exec"]);
      // Settle the queued replies (their refusals are summed up by EXECABORT).
      await Promise.allSettled(replies);
      let results: RawReply;
      try {
        results = await exec;
      } catch (error) {
        if (!_isReplyError(error)) throw error;
        // EXECABORT: a command was refused while queueing, nothing ran. Redis's text, as Upstash passes it on.
        return _json(400, { error: error.message });
      }
      if (!Array.isArray(results)) return _json(400, { error: "EXECABORT Transaction discarded" });
      return _json(
        200,
        results.map((item) => item instanceof Error ? { error: item.message } : { result: _render(item, base64) }),
      );
    } catch (error) {
      // The connection may be left inside MULTI: never hand it to another request.
      reusable = false;
      throw new _HttpError(503, `ERR Redis unavailable: ${_errorText(error)}`);
    } finally {
      if (reusable && !closed && idleTransactionConnections.length < MAX_IDLE_TRANSACTION_CONNECTIONS) {
        idleTransactionConnections.push(redis);
      } else {
        await disconnect(redis);
      }
    }
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (!_authorized(req, url, token)) return _json(401, { error: UNAUTHORIZED });
    const path = url.pathname.replace(/\/+$/, "");
    const base64 = req.headers.get("upstash-encoding")?.toLowerCase() === "base64";
    if (path !== "" && path !== "/pipeline" && path !== "/multi-exec") {
      if (!PATH_FORM_METHODS.has(req.method)) {
        throw new _HttpError(405, `ERR method ${req.method} not allowed, use GET, HEAD, POST or PUT`);
      }
      if (closed) throw new _HttpError(503, "ERR proxy is closed");
      const body = req.method === "POST" || req.method === "PUT" ? new Uint8Array(await req.arrayBuffer()) : null;
      const res = await single(_pathCommand(path, url.search, body), base64);
      return req.method === "HEAD" ? new Response(null, { status: res.status, headers: res.headers }) : res;
    }
    if (req.method !== "POST") throw new _HttpError(405, `ERR method ${req.method} not allowed, use POST`);
    if (closed) throw new _HttpError(503, "ERR proxy is closed");
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      throw new _HttpError(400, "ERR failed to parse request body as JSON");
    }
    switch (path) {
      case "":
        return await single(_parseCommand(body), base64);
      case "/pipeline":
        return await pipeline(_parseCommandList(body), base64);
      default:
        return await multiExec(_parseCommandList(body), base64);
    }
  }

  async function respond(req: Request): Promise<Response> {
    try {
      return await handle(req);
    } catch (error) {
      if (error instanceof _HttpError) return _json(error.status, { error: error.message });
      return _json(500, { error: `ERR internal proxy error: ${_errorText(error)}` });
    }
  }

  return {
    async fetch(req: Request): Promise<Response> {
      // Before anything else, the token included: a refused page learns nothing.
      const refusal = _browserRefusal(req, origins);
      if (refusal) return _json(403, { error: refusal });
      const origin = req.headers.get("origin");
      if (origin === null) return await respond(req);
      if (req.method === "OPTIONS" && req.headers.has("access-control-request-method")) {
        return _withCors(_preflight(req), origin);
      }
      return _withCors(await respond(req), origin);
    },
    async close(): Promise<void> {
      closed = true;
      idleTransactionConnections.length = 0;
      await Promise.all([...connections].map(disconnect));
    },
  };
}

/**
 * Serves {@linkcode createUpstashProxy} over HTTP with `Deno.serve`.
 *
 * @param options Redis URL, token, `port` (0 = any free port) and `hostname`.
 * @returns The base URL for `@upstash/redis` and `close()`.
 *
 * @example
 * ```ts
 * import { Redis } from "@upstash/redis";
 * const proxy = serveUpstashProxy({ redisUrl: "redis://127.0.0.1:6379", token: "dev", port: 0 });
 * const redis = new Redis({ url: proxy.url, token: "dev" });
 * await redis.set("greeting", "hello");
 * await proxy.close();
 * ```
 */
export function serveUpstashProxy(
  { port, hostname = "127.0.0.1", ...options }: ServeUpstashProxyOptions,
): ServedUpstashProxy {
  const proxy = createUpstashProxy(options);
  const server = Deno.serve({ port, hostname, onListen: () => {} }, (req) => proxy.fetch(req));
  const host = server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname;
  return {
    url: `http://${host}:${server.addr.port}`,
    async close(): Promise<void> {
      await server.shutdown();
      await proxy.close();
    },
  };
}

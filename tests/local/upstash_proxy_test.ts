/**
 * The local Upstash REST proxy against real Redis: raw HTTP for every line of
 * `reference/upstash-rest.md`, then `@upstash/redis` and `@upstash/lock`
 * unchanged over real HTTP.
 *
 * Redis comes from `REDIS_URL` (default `redis://127.0.0.1:6379`). When it is
 * unreachable the Redis-backed tests are ignored, unless `REQUIRE_SERVICES=1`,
 * which makes them fail.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Redis as IORedis } from "ioredis";
import { Redis } from "@upstash/redis";
import { Lock } from "@upstash/lock";
import { createUpstashProxy, serveUpstashProxy, type UpstashProxyOptions } from "../../src/local/upstash_proxy.ts";
import { ignoreWithout, redisReachable, servicesRequired, testRedisUrl } from "../support/services.ts";

const REDIS_URL = testRedisUrl();
const REDIS_UP = await redisReachable();
/** Redis-backed tests run when Redis answers, and must run (and fail) when services are required. */
const ignore = await ignoreWithout(
  ["redis"],
  "Upstash proxy against real Redis",
  "the proxy is tested against real Redis",
);

Deno.test({
  name: "Redis is reachable when REQUIRE_SERVICES=1",
  ignore: !servicesRequired(),
  fn() {
    assert.ok(REDIS_UP, `Redis at ${REDIS_URL} is unreachable and REQUIRE_SERVICES=1`);
  },
});

interface Fixture {
  url: string;
  token: string;
  /** Random key prefix of this test; every key under it is deleted afterwards. */
  prefix: string;
  /** Direct Redis connection, to check what really reached Redis. */
  admin: IORedis;
  /** Paths of every HTTP request the proxy received. */
  requests: string[];
  post(
    path: string,
    body: unknown,
    init?: { token?: string | null; base64?: boolean; headers?: Record<string, string> },
  ): Promise<Response>;
  client(options?: { enableAutoPipelining?: boolean }): Redis;
}

async function withProxy(
  fn: (fx: Fixture) => Promise<void>,
  options: Partial<UpstashProxyOptions> = {},
): Promise<void> {
  // Only reached when Redis is down if REQUIRE_SERVICES=1: fail at once instead of timing out.
  if (!REDIS_UP) throw new Error(`Redis at ${REDIS_URL} is unreachable and REQUIRE_SERVICES=1`);
  const token = `tok_${crypto.randomUUID()}`;
  const prefix = `test:proxy:${crypto.randomUUID()}`;
  const proxy = createUpstashProxy({ redisUrl: REDIS_URL, token, ...options });
  const requests: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    requests.push(new URL(req.url).pathname);
    return proxy.fetch(req);
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const admin = new IORedis(REDIS_URL, { lazyConnect: true });
  const fx: Fixture = {
    url,
    token,
    prefix,
    admin,
    requests,
    post(path, body, init = {}) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      const presented = init.token === undefined ? token : init.token;
      if (presented !== null) headers.authorization = `Bearer ${presented}`;
      if (init.base64) headers["upstash-encoding"] = "base64";
      Object.assign(headers, init.headers);
      return fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    },
    client(options = {}) {
      return new Redis({
        url,
        token,
        enableTelemetry: false,
        enableAutoPipelining: options.enableAutoPipelining ?? true,
      });
    },
  };
  try {
    await fn(fx);
  } finally {
    let cursor = "0";
    for (let i = 0; i < 1000; i++) {
      const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
      if (cursor === "0") break;
    }
    await admin.quit();
    await server.shutdown();
    await proxy.close();
  }
}

/** Asserts the reply is JSON with a sync token, and returns its body. */
async function json(res: Response, status: number): Promise<unknown> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.ok(res.headers.get("upstash-sync-token"), "every response carries upstash-sync-token");
  return JSON.parse(text);
}

/**
 * `@upstash/lock`'s CommonJS typings name `@upstash/redis`'s `.d.ts` Redis, our
 * import resolves the `.d.mts` one: the same class at runtime, two nominal types.
 */
const forLock = (redis: Redis) => redis as unknown as ConstructorParameters<typeof Lock>[0]["redis"];

const b64 = (s: string) => Buffer.from(s).toString("base64");

const test = (name: string, fn: (fx: Fixture) => Promise<void>, options: Partial<UpstashProxyOptions> = {}) =>
  Deno.test({ name, ignore, fn: () => withProxy(fn, options) });

// ---------------------------------------------------------------- POST /

test("POST / runs one command: SET with NX/PX numbers reaches Redis as NX PX", async (fx) => {
  const key = `${fx.prefix}:a`;
  assert.deepEqual(await json(await fx.post("/", ["SET", key, "v", "NX", "PX", 10000]), 200), { result: "OK" });
  const pttl = await fx.admin.pttl(key);
  assert.ok(pttl > 9000 && pttl <= 10000, `PTTL ${pttl}`);
  assert.deepEqual(await json(await fx.post("/", ["SET", key, "w", "NX", "PX", 10000]), 200), { result: null });
  assert.equal(await fx.admin.get(key), "v");
});

test("POST / accepts command names in any case", async (fx) => {
  const key = `${fx.prefix}:case`;
  assert.deepEqual(await json(await fx.post("/", ["sEt", key, "x"]), 200), { result: "OK" });
  assert.deepEqual(await json(await fx.post("/", ["get", key]), 200), { result: "x" });
  assert.deepEqual(await json(await fx.post("/", ["GET", key]), 200), { result: "x" });
});

test("POST / stringifies number and boolean arguments", async (fx) => {
  await json(await fx.post("/", ["SET", `${fx.prefix}:n`, 42.5]), 200);
  await json(await fx.post("/", ["SET", `${fx.prefix}:b`, true]), 200);
  await json(await fx.post("/", ["SET", `${fx.prefix}:f`, false]), 200);
  assert.equal(await fx.admin.get(`${fx.prefix}:n`), "42.5");
  assert.equal(await fx.admin.get(`${fx.prefix}:b`), "true");
  assert.equal(await fx.admin.get(`${fx.prefix}:f`), "false");
});

test("POST / answers RESP2 shapes: nil null, integers numbers, HGETALL flat array", async (fx) => {
  const hash = `${fx.prefix}:h`;
  assert.deepEqual(await json(await fx.post("/", ["GET", `${fx.prefix}:missing`]), 200), { result: null });
  assert.deepEqual(await json(await fx.post("/", ["INCRBY", `${fx.prefix}:c`, 5]), 200), { result: 5 });
  assert.deepEqual(await json(await fx.post("/", ["HSET", hash, "a", "1", "b", "2"]), 200), { result: 2 });
  const { result } = await json(await fx.post("/", ["HGETALL", hash]), 200) as { result: string[] };
  assert.ok(Array.isArray(result));
  const pairs = new Map<string, string>();
  for (let i = 0; i < result.length; i += 2) pairs.set(result[i]!, result[i + 1]!);
  assert.deepEqual(Object.fromEntries(pairs), { a: "1", b: "2" });
  assert.deepEqual(await json(await fx.post("/", ["PING"]), 200), { result: "PONG" });
  assert.deepEqual(
    await json(await fx.post("/", ["EVAL", "return {1, 'x', {2, false}}", 0]), 200),
    { result: [1, "x", [2, null]] },
  );
});

test("POST / refuses a body that is not a command array, as JSON", async (fx) => {
  assert.ok(((await json(await fx.post("/", { cmd: "PING" }), 400)) as { error: string }).error);
  assert.ok(((await json(await fx.post("/", []), 400)) as { error: string }).error);
  assert.ok(((await json(await fx.post("/", ["SET", "k", { nested: 1 }]), 400)) as { error: string }).error);
  const res = await fetch(`${fx.url}/`, {
    method: "POST",
    headers: { authorization: `Bearer ${fx.token}` },
    body: "not json",
  });
  assert.ok(((await json(res, 400)) as { error: string }).error);
});

// ---------------------------------------------------------------- errors

test("a failing command answers 400 with Redis' error text intact", async (fx) => {
  const key = `${fx.prefix}:s`;
  await fx.admin.set(key, "string");
  assert.deepEqual(await json(await fx.post("/", ["HGET", key, "f"]), 400), {
    error: "WRONGTYPE Operation against a key holding the wrong kind of value",
  });
  const unknown = await json(await fx.post("/", ["NOSUCHCOMMAND", "x"]), 400) as { error: string };
  assert.match(unknown.error, /^ERR unknown command 'NOSUCHCOMMAND'/i);
  const noscript = await json(await fx.post("/", ["EVALSHA", "0".repeat(40), 0]), 400) as { error: string };
  assert.equal(noscript.error, "NOSCRIPT No matching script. Please use EVAL.");
});

test("error texts are not base64-encoded", async (fx) => {
  const noscript = await json(await fx.post("/", ["EVALSHA", "0".repeat(40), 0], { base64: true }), 400);
  assert.deepEqual(noscript, { error: "NOSCRIPT No matching script. Please use EVAL." });
});

// ---------------------------------------------------------------- base64

test("Upstash-Encoding: base64 encodes every string recursively except OK", async (fx) => {
  const key = `${fx.prefix}:e`;
  assert.deepEqual(await json(await fx.post("/", ["SET", key, "hello"], { base64: true }), 200), { result: "OK" });
  assert.deepEqual(await json(await fx.post("/", ["GET", key], { base64: true }), 200), { result: b64("hello") });
  assert.deepEqual(await json(await fx.post("/", ["PING"], { base64: true }), 200), { result: b64("PONG") });
  assert.deepEqual(await json(await fx.post("/", ["INCR", `${fx.prefix}:i`], { base64: true }), 200), { result: 1 });
  assert.deepEqual(await json(await fx.post("/", ["GET", `${fx.prefix}:none`], { base64: true }), 200), {
    result: null,
  });
  const nested = await json(
    await fx.post("/", ["EVAL", "return {'a', 7, {'b', {'c'}, false}, 'OK'}", 0], { base64: true }),
    200,
  );
  assert.deepEqual(nested, { result: [b64("a"), 7, [b64("b"), [b64("c")], null], "OK"] });
});

test("base64 carries binary values byte for byte", async (fx) => {
  const key = `${fx.prefix}:bin`;
  const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x0a, 0xc3]);
  await fx.admin.set(key, bytes);
  const { result } = await json(await fx.post("/", ["GET", key], { base64: true }), 200) as { result: string };
  assert.deepEqual(Buffer.from(result, "base64"), bytes);
  // Without the header the value is UTF-8 text (lossy for binary, as with Upstash).
  await fx.admin.set(key, "héllo ✓");
  assert.deepEqual(await json(await fx.post("/", ["GET", key]), 200), { result: "héllo ✓" });
  const { result: utf8 } = await json(await fx.post("/", ["GET", key], { base64: true }), 200) as { result: string };
  assert.equal(Buffer.from(utf8, "base64").toString("utf8"), "héllo ✓");
});

// ---------------------------------------------------------------- auth

test("auth: missing or wrong bearer token → 401 JSON; ?_token= is accepted", async (fx) => {
  const missing = await json(await fx.post("/", ["PING"], { token: null }), 401) as { error: string };
  assert.ok(missing.error.length > 0);
  const wrong = await json(await fx.post("/", ["PING"], { token: "nope" }), 401) as { error: string };
  assert.ok(wrong.error.length > 0);
  const wrongPipeline = await json(await fx.post("/pipeline", [["PING"]], { token: `${fx.token}x` }), 401);
  assert.ok((wrongPipeline as { error: string }).error);
  const query = await fetch(`${fx.url}/?_token=${encodeURIComponent(fx.token)}`, {
    method: "POST",
    body: JSON.stringify(["PING"]),
  });
  assert.deepEqual(await json(query, 200), { result: "PONG" });
  const badQuery = await fetch(`${fx.url}/?_token=wrong`, { method: "POST", body: JSON.stringify(["PING"]) });
  await json(badQuery, 401);
});

// ---------------------------------------------------------------- path form

/** A path-form request with the fixture's token. */
function path(
  fx: Fixture,
  method: string,
  pathAndQuery: string,
  init: { body?: BodyInit; headers?: HeadersInit } = {},
) {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${fx.token}`);
  return fetch(`${fx.url}${pathAndQuery}`, {
    method,
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
}

test("path form: GET /set/key/value, GET /get/key, /incr/counter by GET and POST", async (fx) => {
  const key = encodeURIComponent(`${fx.prefix}:pf`);
  const counter = encodeURIComponent(`${fx.prefix}:pf:n`);
  assert.deepEqual(await json(await path(fx, "GET", `/set/${key}/bar`), 200), { result: "OK" });
  assert.deepEqual(await json(await path(fx, "GET", `/get/${key}`), 200), { result: "bar" });
  assert.deepEqual(await json(await path(fx, "GET", `/GET/${key}/`), 200), { result: "bar" });
  assert.deepEqual(await json(await path(fx, "GET", `/incr/${counter}`), 200), { result: 1 });
  assert.deepEqual(await json(await path(fx, "POST", `/incr/${counter}`), 200), { result: 2 });
  assert.deepEqual(await json(await path(fx, "PUT", `/incrby/${counter}/5`), 200), { result: 7 });
  assert.deepEqual(await json(await path(fx, "GET", `/mget/${key}/${counter}/${key}:none`), 200), {
    result: ["bar", "7", null],
  });
  assert.equal(await fx.admin.get(`${fx.prefix}:pf:n`), "7");
  const head = await path(fx, "HEAD", `/get/${key}`);
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
});

test("path form: segments are URL-decoded (%2F is a slash in a key, + stays a plus)", async (fx) => {
  const key = `${fx.prefix}:a/b c:é`;
  const res = await path(fx, "GET", `/set/${encodeURIComponent(key)}/${encodeURIComponent("v/1 2")}+3`);
  assert.deepEqual(await json(res, 200), { result: "OK" });
  assert.equal(await fx.admin.get(key), "v/1 2+3");
  assert.deepEqual(await json(await path(fx, "GET", `/get/${encodeURIComponent(key)}`), 200), { result: "v/1 2+3" });
  const bad = await json(await path(fx, "GET", `/get/%E0%A4%A`), 400) as { error: string };
  assert.match(bad.error, /percent-encoding/);
});

test("path form: a POST body is the last argument, byte for byte; query parameters follow it", async (fx) => {
  const key = `${fx.prefix}:pf:body`;
  const value = JSON.stringify({ amount: 5000, note: "a/b c?d=e&f" });
  assert.deepEqual(await json(await path(fx, "POST", `/set/${encodeURIComponent(key)}`, { body: value }), 200), {
    result: "OK",
  });
  assert.equal(await fx.admin.get(key), value);
  // SET key $VALUE EX 100, as Upstash's docs write it: ?EX=100 after the body.
  await json(await path(fx, "POST", `/set/${encodeURIComponent(key)}?EX=100`, { body: "v2" }), 200);
  const ttl = await fx.admin.ttl(key);
  assert.ok(ttl > 90 && ttl <= 100, `TTL ${ttl}`);
  // A bare flag: SET key v3 NX → nil, the key exists.
  assert.deepEqual(await json(await path(fx, "POST", `/set/${encodeURIComponent(key)}?NX`, { body: "v3" }), 200), {
    result: null,
  });
  assert.equal(await fx.admin.get(key), "v2");
  const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x0a, 0xc3]);
  const bin = `${fx.prefix}:pf:bin`;
  await json(await path(fx, "PUT", `/set/${encodeURIComponent(bin)}`, { body: bytes }), 200);
  assert.deepEqual(await fx.admin.getBuffer(bin), bytes);
  // Same encoding rules as POST /: base64 for every string but OK.
  const res = await path(fx, "GET", `/get/${encodeURIComponent(bin)}`, { headers: { "upstash-encoding": "base64" } });
  assert.deepEqual(await json(res, 200), { result: bytes.toString("base64") });
  const ok = await path(fx, "GET", `/set/${encodeURIComponent(bin)}/x`, { headers: { "upstash-encoding": "base64" } });
  assert.deepEqual(await json(ok, 200), { result: "OK" });
});

test("path form: same auth (?_token= is not an argument), same refusals, Redis errors as 400", async (fx) => {
  const key = encodeURIComponent(`${fx.prefix}:pf:auth`);
  await json(await path(fx, "GET", `/set/${key}/v`, { headers: { authorization: "Bearer wrong" } }), 401);
  await json(await fetch(`${fx.url}/set/${key}/v`), 401);
  assert.equal(await fx.admin.exists(`${fx.prefix}:pf:auth`), 0);
  const query = await fetch(`${fx.url}/set/${key}/v?_token=${encodeURIComponent(fx.token)}`);
  assert.deepEqual(await json(query, 200), { result: "OK" });
  assert.deepEqual(await json(await path(fx, "GET", `/config/get/maxmemory`), 400), {
    error: "ERR Command is not available: 'CONFIG'",
  });
  assert.match(
    ((await json(await path(fx, "POST", `/subscribe/chat`), 400)) as { error: string }).error,
    /not available/,
  );
  assert.deepEqual(await json(await path(fx, "GET", `/hget/${key}/f`), 400), {
    error: "WRONGTYPE Operation against a key holding the wrong kind of value",
  });
  assert.match(
    ((await json(await path(fx, "GET", `/nosuchcommand/x`), 400)) as { error: string }).error,
    /unknown command/i,
  );
  await json(await path(fx, "DELETE", `/get/${key}`), 405);
  await json(await path(fx, "GET", `/pipeline`), 405);
});

test("path form: a cross-site browser GET (image, link) with the public token is refused", async (fx) => {
  const key = `${fx.prefix}:pf:img`;
  const url = `${fx.url}/set/${encodeURIComponent(key)}/pwned?_token=${encodeURIComponent(fx.token)}`;
  // What an <img src> or a link on another site sends: no Origin, Sec-Fetch-Site cross-site.
  await json(await fetch(url, { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" } }), 403);
  await json(await fetch(url, { headers: { origin: "https://evil.example" } }), 403);
  assert.equal(await fx.admin.exists(key), 0);
  // Typed into the address bar by the developer: allowed.
  await json(await fetch(url, { headers: { "sec-fetch-site": "none" } }), 200);
  assert.equal(await fx.admin.get(key), "pwned");
});

test("path form and @upstash/redis read and write the same values", async (fx) => {
  const redis = fx.client();
  const key = `${fx.prefix}:pf:shared`;
  await json(
    await path(fx, "POST", `/set/${encodeURIComponent(key)}`, {
      body: JSON.stringify({ balance: 100, currency: "NGN" }),
    }),
    200,
  );
  assert.deepEqual(await redis.get(key), { balance: 100, currency: "NGN" });
  await redis.set(key, { balance: 250 });
  assert.deepEqual(await json(await path(fx, "GET", `/get/${encodeURIComponent(key)}`), 200), {
    result: JSON.stringify({ balance: 250 }),
  });
  await redis.incr(`${key}:n`);
  assert.deepEqual(await json(await path(fx, "GET", `/incr/${encodeURIComponent(`${key}:n`)}`), 200), { result: 2 });
  assert.equal(await redis.get(`${key}:n`), 2);
});

// ---------------------------------------------------------------- browsers

test("a browser request from a foreign origin is refused with 403 JSON before anything runs", async (fx) => {
  const key = `${fx.prefix}:csrf`;
  const evil = { origin: "https://evil.example" };
  for (
    const [path, body] of [
      ["/", ["SET", key, "pwned"]],
      ["/pipeline", [["SET", key, "pwned"]]],
      ["/multi-exec", [["SET", key, "pwned"]]],
    ] as const
  ) {
    const refused = await json(await fx.post(path, body, { headers: evil }), 403) as { error: string };
    assert.match(refused.error, /origin https:\/\/evil\.example is not allowed/);
  }
  // A no-preflight form/no-cors POST with the public token in the query string.
  const simple = await fetch(`${fx.url}/?_token=${encodeURIComponent(fx.token)}`, {
    method: "POST",
    headers: { "content-type": "text/plain", ...evil },
    body: JSON.stringify(["SET", key, "pwned"]),
  });
  const body = await json(simple, 403);
  assert.deepEqual(Object.keys(body as object), ["error"]);
  assert.equal(simple.headers.get("access-control-allow-origin"), null);
  // Refused whatever the token: the page learns nothing about it.
  await json(await fx.post("/", ["PING"], { token: "wrong", headers: evil }), 403);
  await json(await fx.post("/", ["PING"], { headers: { origin: "null" } }), 403);
  assert.equal(await fx.admin.exists(key), 0);
});

test("a browser request without Origin is refused unless Sec-Fetch-Site is none", async (fx) => {
  for (const site of ["cross-site", "same-site", "same-origin"]) {
    await json(await fx.post("/", ["PING"], { headers: { "sec-fetch-site": site } }), 403);
  }
  assert.deepEqual(await json(await fx.post("/", ["PING"], { headers: { "sec-fetch-site": "none" } }), 200), {
    result: "PONG",
  });
});

test("CORS preflight from a foreign origin is refused without CORS headers", async (fx) => {
  const res = await fetch(`${fx.url}/pipeline`, {
    method: "OPTIONS",
    headers: {
      origin: "https://evil.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
  await json(res, 403);
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  assert.equal(res.headers.get("access-control-allow-methods"), null);
});

test("an allowed origin gets its preflight answered and CORS headers on every response", async (fx) => {
  const origin = "http://localhost:3000";
  const preflight = await fetch(`${fx.url}/pipeline`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type, upstash-encoding",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(await preflight.text(), "");
  assert.equal(preflight.headers.get("access-control-allow-origin"), origin);
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
  assert.equal(preflight.headers.get("access-control-allow-headers"), "authorization, content-type, upstash-encoding");
  const ok = await fx.post("/", ["PING"], { headers: { origin } });
  assert.equal(ok.headers.get("access-control-allow-origin"), origin);
  assert.equal(ok.headers.get("access-control-expose-headers"), "upstash-sync-token");
  assert.deepEqual(await json(ok, 200), { result: "PONG" });
  // The token is still required, and other origins are still refused.
  const unauthorized = await fx.post("/", ["PING"], { token: "wrong", headers: { origin } });
  assert.equal(unauthorized.headers.get("access-control-allow-origin"), origin);
  await json(unauthorized, 401);
  await json(await fx.post("/", ["PING"], { headers: { origin: "http://localhost:3001" } }), 403);
}, { allowedOrigins: ["http://localhost:3000/"] });

/** Runs `fn` with every `fetch` of this isolate sending `origin`, as @upstash/redis does in a browser. */
async function asBrowser<T>(origin: string, fn: () => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  globalThis.fetch = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("origin", origin);
    return original(input, { ...init, headers });
  };
  try {
    return await fn();
  } finally {
    globalThis.fetch = original;
  }
}

test("@upstash/redis in a browser page: refused from a foreign origin, served from an allowed one", async (fx) => {
  const key = `${fx.prefix}:browser`;
  const redis = fx.client({ enableAutoPipelining: false });
  await asBrowser("https://evil.example", async () => {
    await assert.rejects(redis.set(key, "pwned"), /origin https:\/\/evil\.example is not allowed/);
  });
  assert.equal(await fx.admin.exists(key), 0);
  await asBrowser("http://localhost:3000", async () => {
    assert.equal(await redis.set(key, "mine"), "OK");
    assert.equal(await redis.get(key), "mine");
  });
}, { allowedOrigins: ["http://localhost:3000"] });

// ---------------------------------------------------------------- pipeline

test("/pipeline is not atomic: 200 with per-item result or error, later items still run", async (fx) => {
  const str = `${fx.prefix}:p:s`;
  const counter = `${fx.prefix}:p:c`;
  const body = [
    ["SET", str, "v"],
    ["HGET", str, "f"],
    ["INCR", counter],
    ["NOSUCHCOMMAND"],
    ["GET", str],
  ];
  const items = await json(await fx.post("/pipeline", body, { base64: true }), 200) as Array<Record<string, unknown>>;
  assert.equal(items.length, 5);
  assert.deepEqual(items[0], { result: "OK" });
  assert.deepEqual(items[1], { error: "WRONGTYPE Operation against a key holding the wrong kind of value" });
  assert.deepEqual(items[2], { result: 1 });
  assert.match(String(items[3]?.error), /^ERR unknown command/);
  assert.deepEqual(items[4], { result: b64("v") });
  assert.equal(await fx.admin.get(counter), "1");
  await json(await fx.post("/pipeline", [], {}), 400);
  await json(await fx.post("/pipeline", [["PING"], "PING"], {}), 400);
});

// ---------------------------------------------------------------- multi-exec

test("/multi-exec runs MULTI/EXEC: per-item results, runtime errors per item", async (fx) => {
  const key = `${fx.prefix}:m`;
  const items = await json(
    await fx.post("/multi-exec", [["SET", key, "v"], ["HGET", key, "f"], ["APPEND", key, "w"], ["GET", key]], {
      base64: true,
    }),
    200,
  );
  assert.deepEqual(items, [
    { result: "OK" },
    { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
    { result: 2 },
    { result: b64("vw") },
  ]);
});

test("/multi-exec discarded as a whole → a single {error}, nothing applied", async (fx) => {
  const key = `${fx.prefix}:discarded`;
  const body = await json(await fx.post("/multi-exec", [["SET", key, "v"], ["NOSUCHCOMMAND"]]), 400);
  assert.ok(!Array.isArray(body));
  assert.match((body as { error: string }).error, /^EXECABORT/);
  assert.equal(await fx.admin.exists(key), 0);
});

test("/multi-exec is atomic: no command of another request lands inside a transaction", async (fx) => {
  const key = `${fx.prefix}:atomic`;
  const rounds = 40;
  const outcomes = await Promise.all(
    Array.from({ length: rounds }, async (_, i) => {
      const [tx] = await Promise.all([
        fx.post("/multi-exec", [["SET", key, `tx${i}`], ["GET", key], ["SET", key, `tx${i}-done`], ["GET", key]]),
        fx.post("/pipeline", [["SET", key, `intruder${i}`], ["SET", key, `intruder${i}b`]]),
        fx.post("/", ["SET", key, `single${i}`]),
      ]);
      return { i, items: await json(tx, 200) };
    }),
  );
  for (const { i, items } of outcomes) {
    assert.deepEqual(items, [{ result: "OK" }, { result: `tx${i}` }, { result: "OK" }, { result: `tx${i}-done` }]);
  }
});

test("/multi-exec sends MULTI and EXEC to Redis, on a connection other than the shared one", async (fx) => {
  const stat = async (name: string) => {
    const info = await fx.admin.info("commandstats");
    return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  };
  const [multiBefore, execBefore] = [await stat("multi"), await stat("exec")];
  const { result: sharedId } = await json(await fx.post("/", ["CLIENT", "ID"]), 200) as { result: number };
  const txIds = new Set<number>();
  for (let i = 0; i < 5; i++) {
    const items = await json(await fx.post("/multi-exec", [["CLIENT", "ID"]]), 200) as [{ result: number }];
    txIds.add(items[0].result);
  }
  assert.ok(!txIds.has(sharedId), "transactions never run on the connection single commands share");
  assert.ok(await stat("multi") - multiBefore >= 5, "MULTI reached Redis");
  assert.ok(await stat("exec") - execBefore >= 5, "EXEC reached Redis");
});

// ---------------------------------------------------------------- refused commands

test("blocking and connection-state commands are refused, and the proxy stays usable", async (fx) => {
  const refused = [
    ["SUBSCRIBE", "ch"],
    ["PSUBSCRIBE", "c*"],
    ["MONITOR"],
    ["SELECT", 1],
    ["QUIT"],
    ["MULTI"],
    ["EXEC"],
    ["WATCH", `${fx.prefix}:w`],
    ["BLPOP", `${fx.prefix}:l`, 0],
    ["XREAD", "BLOCK", 0, "STREAMS", `${fx.prefix}:x`, "$"],
    ["CLIENT", "REPLY", "OFF"],
  ];
  for (const command of refused) {
    const body = await json(await fx.post("/", command), 400) as { error: string };
    assert.match(body.error, /^ERR Command is not available/, String(command[0]));
  }
  const items = await json(await fx.post("/pipeline", [["PING"], ["SUBSCRIBE", "ch"], ["PING"]]), 200);
  assert.deepEqual((items as unknown[]).length, 3);
  assert.deepEqual((items as unknown[])[0], { result: "PONG" });
  assert.match(String(((items as unknown[])[1] as { error: string }).error), /not available over REST/);
  await json(await fx.post("/multi-exec", [["PING"], ["SELECT", 2]]), 400);
  // Still on database 0, not subscribed, not in MULTI: ordinary commands work.
  await fx.admin.set(`${fx.prefix}:after`, "db0");
  assert.deepEqual(await json(await fx.post("/", ["GET", `${fx.prefix}:after`]), 200), { result: "db0" });
  assert.deepEqual(
    await json(await fx.post("/", ["CLIENT", "ID"]), 200).then((b) =>
      typeof (b as {
        result: unknown;
      }).result
    ),
    "number",
  );
});

/**
 * Commands Upstash does not offer, as a client may send them, with the name
 * the error shows. Chosen to be harmless should one reach the shared Redis
 * (the current maxmemory-policy, keys that do not exist, unused databases).
 */
const UNSUPPORTED: Array<[string, Array<string | number>]> = [
  ["CONFIG", ["CONFIG", "GET", "maxmemory"]],
  ["CONFIG", ["config", "set", "maxmemory-policy", "noeviction"]],
  ["SAVE", ["SAVE"]],
  ["BGSAVE", ["bgsave"]],
  ["BGREWRITEAOF", ["BGREWRITEAOF"]],
  ["MODULE", ["MODULE", "LIST"]],
  ["DEBUG", ["DEBUG", "SLEEP", 0]],
  ["SHUTDOWN", ["SHUTDOWN", "NOSAVE"]],
  ["MONITOR", ["MONITOR"]],
  ["REPLICAOF", ["REPLICAOF", "NO", "ONE"]],
  ["SLAVEOF", ["SLAVEOF", "NO", "ONE"]],
  ["ACL", ["ACL", "WHOAMI"]],
  ["ACL", ["acl", "deluser", "no-such-user"]],
  ["CLUSTER", ["CLUSTER", "INFO"]],
  ["FAILOVER", ["FAILOVER", "ABORT"]],
  ["SYNC", ["SYNC"]],
  ["PSYNC", ["PSYNC", "?", -1]],
  ["MIGRATE", ["MIGRATE", "127.0.0.1", 1, "test:proxy:no-such-key", 0, 1]],
  ["CLIENT KILL", ["CLIENT", "KILL", "ID", 999999999]],
  ["CLIENT PAUSE", ["client", "pause", 1]],
  ["CLIENT NO-EVICT", ["CLIENT", "NO-EVICT", "ON"]],
  ["SWAPDB", ["SWAPDB", 14, 15]],
  ["LATENCY", ["LATENCY", "RESET"]],
  ["SLOWLOG", ["SLOWLOG", "RESET"]],
  ["MEMORY", ["MEMORY", "USAGE", "test:proxy:no-such-key"]],
  ["MOVE", ["MOVE", "test:proxy:no-such-key", 15]],
  ["FUNCTION", ["FUNCTION", "LIST"]],
  ["SCRIPT KILL", ["SCRIPT", "KILL"]],
];

test("commands Upstash does not offer → 400 {error: \"ERR Command is not available: 'NAME'\"}", async (fx) => {
  const calls = async (name: string) =>
    Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(await fx.admin.info("commandstats"))?.[1] ?? 0);
  const before = await Promise.all(["config", "save", "bgsave", "module", "acl", "swapdb", "move"].map(calls));
  for (const [name, command] of UNSUPPORTED) {
    assert.deepEqual(await json(await fx.post("/", command), 400), {
      error: `ERR Command is not available: '${name}'`,
    }, command.join(" "));
  }
  const after = await Promise.all(["config", "save", "bgsave", "module", "acl", "swapdb", "move"].map(calls));
  assert.deepEqual(after, before, "none of them reached Redis");
});

test("unsupported commands in /pipeline fail alone; in /multi-exec they discard the transaction", async (fx) => {
  const key = `${fx.prefix}:unsupported`;
  for (const [name, command] of UNSUPPORTED) {
    const items = await json(await fx.post("/pipeline", [["SET", key, "v"], command, ["GET", key]]), 200);
    assert.deepEqual(items, [
      { result: "OK" },
      { error: `ERR Command is not available: '${name}'` },
      { result: "v" },
    ]);
  }
  await fx.admin.del(key);
  for (const [name, command] of UNSUPPORTED) {
    const discarded = await json(await fx.post("/multi-exec", [["SET", key, "v"], command]), 400);
    assert.deepEqual(discarded, { error: `ERR Command is not available: '${name}'` });
  }
  assert.equal(await fx.admin.exists(key), 0, "nothing of a discarded transaction ran");
});

test("the commands Upstash does offer still run: DBSIZE, TIME, INFO, SCRIPT EXISTS, CLIENT ID", async (fx) => {
  assert.equal(typeof ((await json(await fx.post("/", ["DBSIZE"]), 200)) as { result: unknown }).result, "number");
  assert.equal(((await json(await fx.post("/", ["TIME"]), 200)) as { result: unknown[] }).result.length, 2);
  assert.match(
    ((await json(await fx.post("/", ["INFO", "server"]), 200)) as { result: string }).result,
    /redis_version/,
  );
  assert.deepEqual(await json(await fx.post("/", ["SCRIPT", "EXISTS", "0".repeat(40)]), 200), { result: [0] });
  assert.equal(
    typeof ((await json(await fx.post("/", ["CLIENT", "ID"]), 200)) as { result: unknown }).result,
    "number",
  );
});

test("@upstash/redis: an unsupported command rejects with Upstash's error, its batch neighbours succeed", async (fx) => {
  const redis = fx.client({ enableAutoPipelining: true });
  const key = `${fx.prefix}:neighbour`;
  await redis.set(key, "n");
  const [config, value, save] = await Promise.allSettled([
    redis.exec(["CONFIG", "GET", "maxmemory"]),
    redis.get(key),
    redis.exec(["SAVE"]),
  ]);
  assert.equal(config.status, "rejected");
  assert.match(String((config as PromiseRejectedResult).reason), /ERR Command is not available: 'CONFIG'/);
  assert.deepEqual(value, { status: "fulfilled", value: "n" });
  assert.match(String((save as PromiseRejectedResult).reason), /ERR Command is not available: 'SAVE'/);
  const single = fx.client({ enableAutoPipelining: false });
  await assert.rejects(single.exec(["ACL", "WHOAMI"]), /ERR Command is not available: 'ACL'/);
  assert.equal(typeof (await single.dbsize()), "number");
  assert.equal((await single.time()).length, 2);
});

// ---------------------------------------------------------------- protocol details

test("every response is JSON with a fresh upstash-sync-token, errors included", async (fx) => {
  const responses = [
    await fx.post("/", ["PING"]),
    await fx.post("/", ["PING"]),
    await fx.post("/", ["NOSUCHCOMMAND"]),
    await fx.post("/", ["PING"], { token: "wrong" }),
    await fx.post("/nowhere", ["PING"]),
    await fetch(`${fx.url}/`, { headers: { authorization: `Bearer ${fx.token}` } }),
  ];
  // /nowhere is the path form of the command NOWHERE: Redis' "unknown command", 400.
  const statuses = [200, 200, 400, 401, 400, 405];
  const tokens = new Set<string>();
  for (const [i, res] of responses.entries()) {
    await json(res, statuses[i]!);
    tokens.add(res.headers.get("upstash-sync-token")!);
  }
  assert.equal(tokens.size, responses.length, "each response carries a different sync token");
});

Deno.test("Redis unreachable → 503 JSON error, fast, for /, /pipeline and /multi-exec", async () => {
  const proxy = createUpstashProxy({ redisUrl: "redis://127.0.0.1:1", token: "t" });
  try {
    for (const [path, body] of [["/", ["PING"]], ["/pipeline", [["PING"]]], ["/multi-exec", [["PING"]]]] as const) {
      const started = performance.now();
      const res = await proxy.fetch(
        new Request(`http://proxy${path}`, {
          method: "POST",
          headers: { authorization: "Bearer t" },
          body: JSON.stringify(body),
        }),
      );
      const payload = await json(res, 503) as { error: string };
      assert.match(payload.error, /Redis unavailable/);
      assert.ok(performance.now() - started < 2000, "fails within the reconnect budget");
    }
  } finally {
    await proxy.close();
  }
});

Deno.test({
  name: "serveUpstashProxy listens on the given port and closes cleanly",
  ignore,
  async fn() {
    const served = serveUpstashProxy({ redisUrl: REDIS_URL, token: "t", port: 0 });
    try {
      assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${served.url}/`, {
        method: "POST",
        headers: { authorization: "Bearer t" },
        body: JSON.stringify(["PING"]),
      });
      assert.deepEqual(await json(res, 200), { result: "PONG" });
    } finally {
      await served.close();
    }
  },
});

// ---------------------------------------------------------------- @upstash/redis

test("@upstash/redis: auto-pipelining batches concurrent commands into one /pipeline request", async (fx) => {
  const redis = fx.client({ enableAutoPipelining: true });
  const k = (s: string) => `${fx.prefix}:${s}`;
  fx.requests.length = 0;
  const results = await Promise.all([
    redis.set(k("a"), "1"),
    redis.set(k("b"), { nested: [1, 2] }),
    redis.incr(k("c")),
    redis.hset(k("h"), { f: "v" }),
    redis.get(k("a")),
  ]);
  assert.deepEqual(results, ["OK", "OK", 1, 1, 1]);
  assert.deepEqual(fx.requests, ["/pipeline", "/pipeline"], "one write batch and one read batch");
  fx.requests.length = 0;
  const [obj, hash, missing] = await Promise.all([
    redis.get<{ nested: number[] }>(k("b")),
    redis.hget(k("h"), "f"),
    redis.get(k("missing")),
  ]);
  assert.deepEqual(obj, { nested: [1, 2] });
  assert.equal(hash, "v");
  assert.equal(missing, null);
  assert.deepEqual(fx.requests, ["/pipeline"]);
  assert.deepEqual(await redis.hgetall(k("h")), { f: "v" });
  const tx = redis.multi();
  tx.incr(k("c"));
  tx.get(k("a"));
  assert.deepEqual(await tx.exec(), [2, 1]);
  assert.equal(fx.requests.at(-1), "/multi-exec");
});

test("@upstash/redis: a failing command in a batch rejects only its own call", async (fx) => {
  const redis = fx.client();
  const key = `${fx.prefix}:str`;
  await redis.set(key, "s");
  const [bad, good] = await Promise.allSettled([redis.hget(key, "f"), redis.get(key)]);
  assert.equal(bad.status, "rejected");
  assert.match(String((bad as PromiseRejectedResult).reason), /WRONGTYPE/);
  assert.deepEqual(good, { status: "fulfilled", value: "s" });
});

test("@upstash/redis: EVALSHA falls back to EVAL after SCRIPT FLUSH (NOSCRIPT survives)", async (fx) => {
  const redis = fx.client();
  const script = redis.createScript<string>("return ARGV[1] .. ':' .. KEYS[1]");
  const key = `${fx.prefix}:script`;
  assert.equal(await script.exec([key], ["hi"]), `hi:${key}`);
  let counts: number[] = [];
  // Retried if a parallel test file flushes scripts in between; each round must match to pass.
  for (let round = 0; round < 3; round++) {
    await fx.admin.script("FLUSH");
    fx.requests.length = 0;
    assert.equal(await script.exec([key], ["again"]), `again:${key}`);
    const cold = fx.requests.length;
    fx.requests.length = 0;
    assert.equal(await script.exec([key], ["cached"]), `cached:${key}`);
    counts = [cold, fx.requests.length];
    if (counts[0] === 2 && counts[1] === 1) break;
  }
  assert.deepEqual(counts, [2, 1], "EVALSHA (NOSCRIPT) then EVAL; afterwards EVALSHA hits");
});

test("Upstash's allow-key-locking script flag (@upstash/ratelimit): Redis never sees it, the client's SHA works", async (fx) => {
  const script = "#!lua flags=allow-key-locking\nreturn ARGV[1]";
  const sha = createHash("sha1").update(script).digest("hex");
  let answers: unknown[] = [];
  // Retried if a parallel test file flushes scripts between the EVAL and the EVALSHA.
  for (let round = 0; round < 3; round++) {
    answers = [
      await json(await fx.post("/", ["EVAL", script, 0, "first"]), 200),
      await json(await fx.post("/", ["EVALSHA", sha, 0, "again"]), 200),
      await json(await fx.post("/", ["SCRIPT", "EXISTS", sha, "0".repeat(40)]), 200),
    ];
    if ((answers[1] as { result?: string }).result === "again") break;
  }
  assert.deepEqual(answers, [{ result: "first" }, { result: "again" }, { result: [1, 0] }]);
  const other = "#!lua flags=allow-key-locking\nreturn 'loaded'";
  const loaded = await json(await fx.post("/", ["SCRIPT", "LOAD", other]), 200);
  assert.deepEqual(loaded, { result: createHash("sha1").update(other).digest("hex") });
  // Redis' own flags stay: no-writes still refuses a write.
  const readOnly = await json(
    await fx.post("/", [
      "EVAL",
      "#!lua flags=no-writes,allow-key-locking\nreturn redis.call('set', KEYS[1], 'v')",
      1,
      `${fx.prefix}:ro`,
    ]),
    400,
  ) as { error: string };
  assert.match(readOnly.error, /Write commands are not allowed from read-only scripts/);
  assert.equal(await fx.admin.exists(`${fx.prefix}:ro`), 0);
});

test("@upstash/redis: set(k, v, { nx: true, px: 1000 }) reaches Redis as NX PX", async (fx) => {
  const redis = fx.client();
  const key = `${fx.prefix}:nxpx`;
  assert.equal(await redis.set(key, "first", { nx: true, px: 1000 }), "OK");
  const pttl = await fx.admin.pttl(key);
  assert.ok(pttl > 0 && pttl <= 1000, `PX reached Redis: PTTL ${pttl}`);
  assert.equal(await redis.set(key, "second", { nx: true, px: 1000 }), null, "NX reached Redis");
  assert.equal(await fx.admin.get(key), "first");
  let expired = false;
  for (let i = 0; i < 40 && !expired; i++) {
    await new Promise((r) => setTimeout(r, 50));
    expired = (await redis.get(key)) === null;
  }
  assert.ok(expired, "the key expired after its PX lease");
});

// ---------------------------------------------------------------- @upstash/lock

test("@upstash/lock: exclusive across two clients, release by a non-holder fails", async (fx) => {
  const id = `${fx.prefix}:lock`;
  const holder = new Lock({ id, redis: forLock(fx.client()), lease: 5000, retry: { attempts: 1, delay: 10 } });
  const other = new Lock({ id, redis: forLock(fx.client()), lease: 5000, retry: { attempts: 3, delay: 20 } });
  assert.equal(await holder.acquire(), true);
  assert.equal(await other.acquire(), false);
  assert.equal(await other.release(), false, "a non-holder cannot release");
  assert.equal(await holder.getStatus(), "ACQUIRED");
  const pttl = await fx.admin.pttl(id);
  assert.ok(pttl > 4000 && pttl <= 5000, `lease reached Redis as PX: ${pttl}`);
  assert.equal(await holder.release(), true);
  assert.equal(await fx.admin.exists(id), 0);
  assert.equal(await other.acquire(), true);
  assert.equal(await other.release(), true);
});

test("@upstash/lock: lease expiry frees the lock for another client", async (fx) => {
  const id = `${fx.prefix}:lease`;
  const first = new Lock({ id, redis: forLock(fx.client()), lease: 200, retry: { attempts: 1, delay: 10 } });
  const second = new Lock({ id, redis: forLock(fx.client()), lease: 2000, retry: { attempts: 30, delay: 25 } });
  assert.equal(await first.acquire(), true);
  assert.equal(await second.acquire(), true, "obtained once the 200 ms lease ran out");
  assert.equal(await first.release(), false, "the expired holder no longer holds it");
  assert.equal(await second.getStatus(), "ACQUIRED");
  assert.equal(await second.release(), true);
});

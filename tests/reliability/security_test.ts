/**
 * Item 5 of the reliability suite: no one gets in where they do not belong.
 *
 * - Tokens, against every route that needs one (user and service-role
 *   routes alike): `alg: none`, HS/RS confusion (HS256 signed with the RSA
 *   public key the service trusts through its JWKS), another RSA key, the
 *   wrong HMAC secret, expired, no `exp`, not yet valid, wrong or missing
 *   audience, odd `sub`s, and roles the service must not honour — each
 *   refused (401, or 403 where a valid user knocks on a staff door), and
 *   nothing written.
 * - Another user's token on every owned resource: 404 (as if it did not
 *   exist), nothing written; a user token on every service-role route: 403.
 * - Every table and every function, found in the catalogue (so a new one is
 *   covered the day it is added), probed as `anon` and `authenticated`:
 *   through the RPC gateway (PostgREST's protocol, as the outside world
 *   reaches Supabase) and directly in SQL (`set local role`).
 * - Every log line the service wrote while being attacked is scanned for
 *   secret keys, JWTs, signatures and e-mail addresses.
 */
import assert from "node:assert/strict";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { createPayment, payAtCheckout } from "../support/payment_flow.ts";
import { ignoreWithout } from "../support/services.ts";
import { reportFigures } from "./support/scale.ts";
import { findLeaks } from "./support/secret_scan.ts";

/** Routes a signed-in user may call (with a payment of theirs). */
const USER_ROUTES = (ref: string): Array<[string, string, unknown?]> => [
  ["GET", "/v1/payments"],
  ["GET", `/v1/payments/${ref}`],
  ["POST", `/v1/payments/${ref}/verify`],
  ["GET", `/v1/payments/${ref}/refunds`],
  ["GET", "/v1/wallet"],
  ["POST", "/v1/payments", { amount: 5_000, currency: "NGN" }],
];
/** Routes only the service role may call. */
const SERVICE_ROUTES = (ref: string, userId: string): Array<[string, string, unknown?]> => [
  ["POST", `/v1/payments/${ref}/refunds`, { amount: 100, reason: "probe" }],
  ["POST", "/v1/wallet/debits", { user_id: userId, amount: 100, currency: "NGN", reason: "probe" }],
  ["POST", "/v1/jobs/reconcile"],
  ["GET", "/metrics"],
];

const name = "security: forged tokens, other users, staff routes, every table and function as anon and authenticated";

Deno.test({
  name,
  ignore: await ignoreWithout(["postgres"], name, "it switches roles in real Postgres sessions"),
  async fn(t) {
    // The project's keys: the HS256 secret, and an RSA key published through a JWKS the service trusts.
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const stranger = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(rsa.publicKey)), kid: "project-key", alg: "RS256", use: "sig" };
    const jwks = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      () => Response.json({ keys: [jwk] }),
    );
    let stack: TestStack | undefined;
    const figures = { token_probes: 0, ownership_probes: 0, staff_probes: 0, gateway_probes: 0, sql_probes: 0 };
    try {
      stack = await startTestStack({
        env: {
          SUPABASE_JWKS_URL: `http://127.0.0.1:${(jwks.addr as Deno.NetAddr).port}/jwks.json`,
          RATE_LIMIT_INITIALIZE_PER_MINUTE: "0",
          RATE_LIMIT_VERIFY_PER_MINUTE: "0",
        },
      });
      const s = stack;
      const secret = new TextEncoder().encode(s.config.auth.jwtSecret!);
      const owner = await createPayment(s, { amount: 40_000 });
      await payAtCheckout(owner, "success");
      const intruder = await createPayment(s, { amount: 10_000 });
      await s.runtime.sandbox!.idle();
      const serviceToken = await s.serviceToken();
      const now = Math.floor(Date.now() / 1000);
      const user = { sub: owner.userId, role: "authenticated", aud: "authenticated" };

      const snapshot = async () => {
        const [row] = await s.database.db.query<{ s: string }>(
          `select (select count(*) || md5(coalesce(string_agg(p::text, ',' order by p.id), '')) from public.payment_logs p)
               || (select count(*) || md5(coalesce(string_agg(t::text, ',' order by t.id), '')) from public.sms_transactions t)
               || (select count(*) || md5(coalesce(string_agg(w::text, ',' order by w.id), '')) from public.wallets w)
               || (select count(*) || md5(coalesce(string_agg(k::text, ',' order by k.key), '')) from public.idempotency_keys k)
               || (select count(*) from public.refunds) || (select count(*) from public.webhook_events) as s`,
        );
        return row!.s;
      };
      /** Sends and checks: the status is one of `statuses`, the answer a problem, and nothing was written. */
      const refused = async (
        what: string,
        method: string,
        path: string,
        token: string | null,
        body: unknown,
        statuses: number[],
      ) => {
        const before = await snapshot();
        const res = await fetch(`${s.url}${path}`, {
          method,
          headers: {
            ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            "Idempotency-Key": crypto.randomUUID(),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        assert.ok(statuses.includes(res.status), `${what}: ${method} ${path} answered ${res.status} ${text}`);
        assert.equal(res.headers.get("content-type"), "application/problem+json", `${what}: ${method} ${path}`);
        assert.equal(await snapshot(), before, `${what}: ${method} ${path} wrote to the database`);
      };

      await t.step("the genuine tokens pass (so the refusals below are about the token)", async () => {
        const rs256 = await new SignJWT(user).setProtectedHeader({ alg: "RS256", kid: "project-key" })
          .setExpirationTime(now + 600).sign(rsa.privateKey);
        for (const token of [owner.token, rs256]) {
          const res = await fetch(`${s.url}/v1/payments/${owner.reference}`, {
            headers: { Authorization: `Bearer ${token}` },
          });
          assert.equal(res.status, 200, await res.text());
        }
        const res = await fetch(`${s.url}/v1/jobs/reconcile`, {
          method: "POST",
          headers: { Authorization: `Bearer ${serviceToken}` },
        });
        assert.equal(res.status, 200, await res.text());
      });

      await t.step("forged, expired and unacceptable tokens are refused on every route, nothing written", async () => {
        const pem = await exportSPKI(rsa.publicKey);
        const b64 = (value: unknown) =>
          btoa(JSON.stringify(value)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
        const hs = (claims: Record<string, unknown>, key: Uint8Array = secret) =>
          new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
        const inAMinute = now + 60;
        const tokens: Record<string, string> = {
          "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...user, exp: inAMinute })}.`,
          "alg none, service role": `${b64({ alg: "none" })}.${b64({ role: "service_role", exp: inAMinute })}.`,
          "HS256 signed with the RSA public key (PEM)": await hs(
            { ...user, exp: inAMinute },
            new TextEncoder().encode(pem),
          ),
          "HS256 signed with the RSA public key (JWK)": await hs(
            { ...user, exp: inAMinute },
            new TextEncoder().encode(JSON.stringify(jwk)),
          ),
          "RS256 from another key": await new SignJWT(user).setProtectedHeader({ alg: "RS256", kid: "project-key" })
            .setExpirationTime(inAMinute).sign(stranger.privateKey),
          "RS256 header, HS256 signature": (await hs({ ...user, exp: inAMinute })).replace(
            /^[^.]+/,
            b64({ alg: "RS256", kid: "project-key" }),
          ),
          "wrong HMAC secret": await hs({ ...user, exp: inAMinute }, new TextEncoder().encode("y".repeat(48))),
          "expired": await hs({ ...user, exp: now - 120 }),
          "no exp": await hs(user),
          "not yet valid": await hs({ ...user, exp: now + 7_200, nbf: now + 3_600 }),
          "signature stripped": owner.token.split(".").slice(0, 2).join(".") + ".",
          "payload swapped": [
            owner.token.split(".")[0],
            b64({ ...user, sub: intruder.userId, exp: inAMinute }),
            owner.token.split(".")[2],
          ].join("."),
        };
        const userOnly: Record<string, string> = {
          "wrong audience": await hs({ ...user, aud: "anon", exp: inAMinute }),
          "no audience": await hs({ sub: owner.userId, role: "authenticated", exp: inAMinute }),
          "sub not a UUID": await hs({ ...user, sub: "admin", exp: inAMinute }),
          "sub empty": await hs({ ...user, sub: "", exp: inAMinute }),
          "anon role": await hs({ ...user, role: "anon", exp: inAMinute }),
          "supabase_admin role": await hs({ ...user, role: "supabase_admin", exp: inAMinute }),
          "postgres role": await hs({ ...user, role: "postgres", exp: inAMinute }),
          "no role": await hs({ sub: owner.userId, aud: "authenticated", exp: inAMinute }),
        };
        const notStaff: Record<string, string> = {
          "anon role": await hs({ role: "anon", exp: inAMinute }),
          "supabase_admin role": await hs({ role: "supabase_admin", exp: inAMinute }),
          "postgres role": await hs({ role: "postgres", exp: inAMinute }),
          "SERVICE_ROLE (case)": await hs({ role: "SERVICE_ROLE", exp: inAMinute }),
          "service_role with a space": await hs({ role: "service_role ", exp: inAMinute }),
          "roles array": await hs({ role: ["service_role"], exp: inAMinute }),
          "authenticated user": owner.token,
        };
        for (
          const [method, path, body] of [
            ...USER_ROUTES(owner.reference),
            ...SERVICE_ROUTES(owner.reference, owner.userId),
          ]
        ) {
          for (const [label, token] of Object.entries(tokens)) {
            figures.token_probes++;
            await refused(label, method, path, token, body, [401]);
          }
          figures.token_probes++;
          await refused("no token", method, path, null, body, [401]);
          await refused("not a bearer", method, path, "x", body, [401]);
        }
        for (const [method, path, body] of USER_ROUTES(owner.reference)) {
          for (const [label, token] of Object.entries(userOnly)) {
            figures.token_probes++;
            await refused(label, method, path, token, body, [401]);
          }
        }
        // The service role on a signed-in user's route (its refund list is shared with staff, on purpose).
        for (const [method, path, body] of USER_ROUTES(owner.reference).filter(([, p]) => !p.endsWith("/refunds"))) {
          figures.token_probes++;
          await refused("service role on a user route", method, path, serviceToken, body, [401, 403]);
        }
        for (const [method, path, body] of SERVICE_ROUTES(owner.reference, owner.userId)) {
          for (const [label, token] of Object.entries(notStaff)) {
            figures.token_probes++;
            await refused(label, method, path, token, body, [401, 403]);
          }
        }
      });

      await t.step("another user's token on every owned resource: 404, nothing written", async () => {
        for (const [method, path] of USER_ROUTES(owner.reference).filter(([, p]) => p.includes(owner.reference))) {
          figures.ownership_probes++;
          await refused("another user", method, path, intruder.token, undefined, [404]);
        }
        const list =
          await (await fetch(`${s.url}/v1/payments`, { headers: { Authorization: `Bearer ${intruder.token}` } }))
            .json();
        assert.ok(!JSON.stringify(list).includes(owner.reference), "someone else's payment listed");
        const wallet =
          await (await fetch(`${s.url}/v1/wallet`, { headers: { Authorization: `Bearer ${intruder.token}` } }))
            .json();
        assert.deepEqual(wallet.balances, [], "someone else's balance shown");
      });

      await t.step("a user token on every service-role route: 403, nothing written", async () => {
        for (const [method, path, body] of SERVICE_ROUTES(owner.reference, owner.userId)) {
          figures.staff_probes++;
          await refused("user on a staff route", method, path, owner.token, body, [403]);
        }
      });

      const catalogue = await s.database.db.query<{ schema: string; name: string; kind: string; oid: string }>(
        `select n.nspname as schema, c.relname as name, 'table' as kind, c.oid::text as oid
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname in ('public', 'private', 'sandbox_paystack') and c.relkind in ('r', 'p', 'v', 'm')
         union all
         select n.nspname, p.proname, 'function', p.oid::text
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname in ('public', 'private', 'sandbox_paystack')
          order by 1, 2`,
      );
      const tables = catalogue.filter((r) => r.kind === "table");
      const functions = catalogue.filter((r) => r.kind === "function");
      // The probes below loop over this catalogue: an empty one would pass having probed nothing.
      assert.ok(tables.some((t) => t.schema === "public" && t.name === "payment_logs"), "catalogue has the tables");
      assert.ok(functions.some((f) => f.schema === "public" && f.name === "credit_user"), "catalogue has functions");

      await t.step(
        "through the RPC gateway as anon and authenticated: no function runs, no table is served",
        async () => {
          const gateway = s.runtime.endpoints.rpcGateway!;
          const anon = await new SignJWT({ role: "anon" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(
            now + 600,
          )
            .sign(secret);
          const authenticated = await new SignJWT(user).setProtectedHeader({ alg: "HS256" }).setExpirationTime(
            now + 600,
          )
            .sign(secret);
          const before = await snapshot();
          for (const token of [anon, authenticated, null]) {
            for (const fn of functions) {
              figures.gateway_probes++;
              const res = await fetch(`${gateway}/rest/v1/rpc/${fn.name}`, {
                method: "POST",
                headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
                body: "{}",
              });
              const text = await res.text();
              assert.ok(
                [401, 403, 404].includes(res.status),
                `${fn.schema}.${fn.name} via the gateway: ${res.status} ${text}`,
              );
            }
            for (const table of tables) {
              figures.gateway_probes++;
              const res = await fetch(`${gateway}/rest/v1/${table.name}?select=*`, {
                headers: token ? { Authorization: `Bearer ${token}` } : {},
              });
              const text = await res.text();
              assert.ok(
                [401, 403, 404].includes(res.status),
                `${table.schema}.${table.name} via the gateway: ${res.status} ${text}`,
              );
            }
          }
          assert.equal(await snapshot(), before, "the gateway probes wrote something");
        },
      );

      await t.step(
        "directly in SQL as anon and authenticated: no table read or written, no function executed",
        async () => {
          const claims = JSON.stringify({ sub: owner.userId, role: "authenticated" });
          for (const role of ["anon", "authenticated"]) {
            for (const fn of functions) {
              figures.sql_probes++;
              const [row] = await s.database.db.query<{ ok: boolean }>(
                "select pg_catalog.has_function_privilege($1, $2::oid, 'execute') as ok",
                [role, fn.oid],
              );
              assert.equal(row!.ok, false, `${role} may execute ${fn.schema}.${fn.name}`);
            }
            for (const table of tables) {
              for (const privilege of ["select", "insert", "update", "delete", "truncate", "references", "trigger"]) {
                figures.sql_probes++;
                const [row] = await s.database.db.query<{ ok: boolean }>(
                  "select pg_catalog.has_table_privilege($1, $2::oid, $3) as ok",
                  [role, table.oid, privilege],
                );
                assert.equal(row!.ok, false, `${role} has ${privilege} on ${table.schema}.${table.name}`);
              }
              // And as PostgREST would run it: the role switched inside a transaction, the claims set.
              for (
                const statement of [
                  `select * from ${table.schema}.${table.name} limit 1`,
                  `delete from ${table.schema}.${table.name}`,
                ]
              ) {
                figures.sql_probes++;
                let code: string | null = null;
                try {
                  await s.database.db.transaction(async (tx) => {
                    await tx.query("select set_config('request.jwt.claims', $1, true)", [claims]);
                    await tx.query(`set local role ${role}`);
                    await tx.query(statement);
                  });
                } catch (error) {
                  code = (error as { code?: string }).code ?? "unknown";
                }
                assert.equal(code, "42501", `${role}: ${statement} → ${code ?? "allowed"}`);
              }
            }
          }
        },
      );

      await t.step("no secret, token, signature or e-mail in any log line", () => {
        const leaks = findLeaks(s.logs, [
          s.config.provider.secretKey,
          s.config.auth.jwtSecret ?? "",
          s.config.dbWebhookSecret,
          serviceToken,
          owner.token,
          intruder.token,
        ]);
        assert.deepEqual(leaks.slice(0, 5), []);
      });
      reportFigures("security", {
        ...figures,
        tables: tables.length,
        functions: functions.length,
        log_lines: s.logs.length,
      });
    } finally {
      await stack?.close();
      await jwks.shutdown();
    }
  },
});

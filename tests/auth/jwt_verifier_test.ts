import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createJwtVerifier } from "../../src/auth/jwt_verifier.ts";
import { signDevToken } from "../../src/auth/dev_token.ts";
import { DEV_JWT_SECRET } from "../../src/config.ts";
import { AppError } from "../../src/errors.ts";

const USER = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
const user = USER;

async function rejects(p: Promise<unknown>, detail: RegExp) {
  await assert.rejects(
    p,
    (e: unknown) => e instanceof AppError && e.code === "invalid_token" && detail.test(e.message),
  );
}

Deno.test("JWT verifier", async (t) => {
  const verifier = createJwtVerifier({ secret: DEV_JWT_SECRET });

  await t.step("accepts an HS256 user token and returns sub and role", async () => {
    const p = await verifier.verify(await signDevToken({ secret: DEV_JWT_SECRET, userId: user }), {
      audience: "authenticated",
    });
    assert.equal(p.userId, user);
    assert.equal(p.role, "authenticated");
  });

  await t.step("refuses an expired token", async () => {
    const old = Math.floor(Date.now() / 1000) - 7200;
    await rejects(
      verifier.verify(await signDevToken({ secret: DEV_JWT_SECRET, userId: user, issuedAt: old })),
      /expired/,
    );
  });

  const sign = (claims: Record<string, unknown>, build: (jwt: SignJWT) => SignJWT = (jwt) => jwt) =>
    build(new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }))
      .sign(new TextEncoder().encode(DEV_JWT_SECRET));

  await t.step("refuses a correctly signed token without exp, user and service role alike", async () => {
    const user = await sign({ role: "authenticated", aud: "authenticated", sub: USER }, (jwt) => jwt.setIssuedAt());
    await rejects(verifier.verify(user, { audience: "authenticated" }), /expiry/);
    await rejects(verifier.verify(await sign({ role: "service_role" })), /expiry/);
  });

  await t.step("refuses an exp that is not a number", async () => {
    await rejects(verifier.verify(await sign({ role: "service_role", exp: "never" })), /expiry/);
  });

  await t.step("refuses a sub that is not a UUID (36 dashes, a name, a number)", async () => {
    for (const sub of ["-".repeat(36), "admin", 42, "6f1c2d3e4a5b4c6d8e9f0a1b2c3d4e5f", `${USER}x`]) {
      const token = await sign(
        { role: "authenticated", aud: "authenticated", sub },
        (jwt) => jwt.setExpirationTime("1h"),
      );
      await rejects(verifier.verify(token, { audience: "authenticated" }), /sub/);
      await rejects(verifier.verify(token), /sub/);
    }
  });

  await t.step("accepts a token without sub (service-role keys) and upper-case UUIDs", async () => {
    const service = await verifier.verify(await signDevToken({ secret: DEV_JWT_SECRET, role: "service_role" }));
    assert.equal(service.userId, "");
    assert.equal(service.role, "service_role");
    const upper = await verifier.verify(await signDevToken({ secret: DEV_JWT_SECRET, userId: USER.toUpperCase() }));
    assert.equal(upper.userId, USER.toUpperCase());
  });

  await t.step("refuses a token signed with another key", async () => {
    const other = await signDevToken({ secret: "another-secret-that-is-at-least-32-characters", userId: user });
    await rejects(verifier.verify(other), /signature/);
  });

  await t.step("refuses alg none", async () => {
    const header = btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "");
    const body = btoa(JSON.stringify({ sub: user, role: "authenticated", aud: "authenticated" })).replace(/=+$/, "");
    await rejects(verifier.verify(`${header}.${body}.`), /not accepted/);
  });

  await t.step("refuses malformed tokens", async () => {
    await rejects(verifier.verify("not-a-jwt"), /Malformed/);
  });

  await t.step("refuses the wrong audience", async () => {
    const service = await signDevToken({ secret: DEV_JWT_SECRET, role: "service_role" });
    await rejects(verifier.verify(service, { audience: "authenticated" }), /claims/);
  });

  await t.step("verifies asymmetric tokens against the project's JWKS, fetched once", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    let fetches = 0;
    const jwksVerifier = createJwtVerifier({
      jwksUrl: "https://project.supabase.co/auth/v1/.well-known/jwks.json",
      fetch: () => {
        fetches++;
        return Promise.resolve(Response.json({ keys: [jwk] }));
      },
    });
    const token = await new SignJWT({ role: "authenticated" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setSubject(user)
      .setAudience("authenticated")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
    assert.equal((await jwksVerifier.verify(token, { audience: "authenticated" })).userId, user);
    assert.equal((await jwksVerifier.verify(token, { audience: "authenticated" })).userId, user);
    assert.equal(fetches, 1);
    await rejects(jwksVerifier.verify(await signDevToken({ secret: DEV_JWT_SECRET, userId: user })), /not accepted/);
  });
});

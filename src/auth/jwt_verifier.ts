/**
 * Verifies Supabase access tokens with `jose`: HS256 with the project's JWT
 * secret, and asymmetric keys (ES256/RS256) from the project's JWKS endpoint,
 * fetched once and cached by jose. `alg: none` and any algorithm not listed
 * are refused by jose before a signature is even looked at.
 *
 * @module
 */
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, type JWTPayload, jwtVerify } from "jose";
import { AppError } from "../errors.ts";

/** Who a verified token speaks for. */
export interface Principal {
  /** `sub`: the Supabase user id. Empty for service-role keys. */
  userId: string;
  /** `role` claim: `authenticated`, `service_role`, ... */
  role: string;
  /** Every claim, for logs and policies. */
  claims: JWTPayload;
}

/** Options of {@linkcode createJwtVerifier}. */
export interface JwtVerifierOptions {
  /** HS256 secret (`SUPABASE_JWT_SECRET`). */
  secret?: string | null;
  /** JWKS endpoint (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`). */
  jwksUrl?: string | null;
  /** Clock tolerance for `exp`/`nbf`, in seconds. @default 5 */
  clockToleranceSeconds?: number;
  /** Custom fetch for the JWKS (tests). */
  fetch?: typeof fetch;
}

/** Verifies bearer tokens. */
export interface JwtVerifier {
  /**
   * Verifies `token` and returns its principal.
   * @throws {AppError} `invalid_token` for a malformed, unsigned, wrongly signed or expired token
   */
  verify(token: string, options?: { audience?: string }): Promise<Principal>;
}

const ASYMMETRIC = ["ES256", "RS256", "EdDSA"];

/**
 * Creates a verifier. At least one of `secret` and `jwksUrl` must be given.
 *
 * @example
 * ```ts
 * const verifier = createJwtVerifier({ secret: DEV_JWT_SECRET });
 * const { userId } = await verifier.verify(token, { audience: "authenticated" });
 * ```
 */
export function createJwtVerifier(
  { secret = null, jwksUrl = null, clockToleranceSeconds = 5, fetch: fetchImpl }: JwtVerifierOptions,
): JwtVerifier {
  if (!secret && !jwksUrl) throw new Error("A JWT secret or a JWKS URL is required");
  const key = secret ? new TextEncoder().encode(secret) : null;
  const jwks = jwksUrl
    ? createRemoteJWKSet(new URL(jwksUrl), {
      cacheMaxAge: 10 * 60_000,
      ...(fetchImpl ? { [customFetch]: fetchImpl } : {}),
    })
    : null;
  return {
    async verify(token, { audience } = {}) {
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new AppError("invalid_token", { detail: "Malformed token" });
      }
      const options = { clockTolerance: clockToleranceSeconds, ...(audience ? { audience } : {}) };
      try {
        const { payload } = alg === "HS256" && key
          ? await jwtVerify(token, key, { ...options, algorithms: ["HS256"] })
          : jwks && alg && ASYMMETRIC.includes(alg)
          ? await jwtVerify(token, jwks, { ...options, algorithms: ASYMMETRIC })
          : _refuse(alg);
        const role = typeof payload.role === "string" ? payload.role : "";
        return { userId: typeof payload.sub === "string" ? payload.sub : "", role, claims: payload };
      } catch (error) {
        if (error instanceof AppError) throw error;
        const code = (error as { code?: string }).code;
        const detail = code === "ERR_JWT_EXPIRED"
          ? "Token expired"
          : code === "ERR_JWT_CLAIM_VALIDATION_FAILED"
          ? "Token claims are not acceptable"
          : "Token signature or format is invalid";
        throw new AppError("invalid_token", { detail, cause: error });
      }
    },
  };
}

function _refuse(alg: string | undefined): never {
  throw new AppError("invalid_token", { detail: `Token algorithm ${alg ?? "(none)"} is not accepted` });
}

/**
 * Verifies Supabase access tokens with `jose`: HS256 with the project's JWT
 * secret, and asymmetric keys (ES256/RS256) from the project's JWKS endpoint,
 * fetched once and cached by jose. `alg: none` and any algorithm not listed
 * are refused by jose before a signature is even looked at.
 *
 * Beyond the signature, two claims are checked here, once for every route:
 * `exp` is required (a token that never expires is a credential that can
 * never be revoked; GoTrue and Supabase's API keys always carry one), and
 * `sub`, when present, must be a UUID (GoTrue's user ids are; anything else
 * would reach the database as a malformed `uuid` and fail there as a 500).
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
   * @throws {AppError} `invalid_token` for a malformed, unsigned, wrongly signed, expired or
   *   never-expiring token, and for one whose `sub` is not a UUID
   */
  verify(token: string, options?: { audience?: string }): Promise<Principal>;
}

const ASYMMETRIC = ["ES256", "RS256", "EdDSA"];

/** A UUID in its canonical text form, as GoTrue writes user ids. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in canonical form (8-4-4-4-12 hex digits). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

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
      const options = {
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ["exp"],
        ...(audience ? { audience } : {}),
      };
      try {
        const { payload } = alg === "HS256" && key
          ? await jwtVerify(token, key, { ...options, algorithms: ["HS256"] })
          : jwks && alg && ASYMMETRIC.includes(alg)
          ? await jwtVerify(token, jwks, { ...options, algorithms: ASYMMETRIC })
          : _refuse(alg);
        if (payload.sub !== undefined && !isUuid(payload.sub)) {
          throw new AppError("invalid_token", { detail: "Token subject (sub) is not a user id" });
        }
        const role = typeof payload.role === "string" ? payload.role : "";
        return { userId: payload.sub ?? "", role, claims: payload };
      } catch (error) {
        if (error instanceof AppError) throw error;
        const { code, claim } = error as { code?: string; claim?: string };
        const detail = code === "ERR_JWT_EXPIRED"
          ? "Token expired"
          : code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && claim === "exp"
          ? "Token has no valid expiry (exp)"
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

/**
 * Request authentication the way PostgREST does it (`Auth/Jwt.hs`): a
 * Bearer JWT (or, as Supabase's API gateway does, the `apikey` header when
 * there is no Bearer token) signed with the shared HMAC secret. The `role`
 * claim picks the database role; no token means the anonymous role.
 *
 * @module
 */
import { compactVerify, errors } from "jose";
import { jwtClaimsError, jwtDecodeError } from "./api_error.ts";

/** Who the request runs as. */
export interface AuthResult {
  /** Database role for `SET LOCAL ROLE`. */
  role: string;
  /** The JWT claims with `role` set, as `request.jwt.claims` receives them. */
  claims: Record<string, unknown>;
}

/** Options of {@linkcode authenticate}. */
export interface AuthenticateOptions {
  /** The HS256/384/512 secret shared with the token issuer (GoTrue). */
  secret: Uint8Array;
  /** Role of requests without a token or without a `role` claim. */
  anonRole: string;
  /** The current time. */
  now: Date;
}

/**
 * PostgREST tolerates this much clock skew on `exp`, `nbf` and `iat`
 * (`allowedSkewSeconds`), so a token is not refused for a few seconds of
 * drift between GoTrue and the API server.
 */
const ALLOWED_SKEW_SECONDS = 30;

const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];

/**
 * Authenticates a request from its headers.
 *
 * @param headers the request headers
 * @param options secret, anonymous role and clock
 * @returns the role and claims of the request
 * @throws {ApiError} 401 PGRST301 when the token cannot be decoded or
 *   verified, 401 PGRST303 when a claim check fails
 */
export async function authenticate(headers: Headers, options: AuthenticateOptions): Promise<AuthResult> {
  const token = bearerToken(headers);
  if (token === null) return { role: options.anonRole, claims: { role: options.anonRole } };
  const claims = await _verifiedClaims(token, options.secret);
  _checkClaims(claims, Math.floor(options.now.getTime() / 1000));
  const role = _roleOf(claims.role) ?? options.anonRole;
  return { role, claims: { ...claims, role } };
}

/**
 * The token of a request: `Authorization: Bearer <jwt>` (scheme
 * case-insensitive), else the `apikey` header, else null.
 */
export function bearerToken(headers: Headers): string | null {
  const authorization = headers.get("authorization");
  const match = authorization === null ? null : /^bearer (.*)$/is.exec(authorization);
  if (match) return match[1]!.trim();
  return headers.get("apikey");
}

async function _verifiedClaims(token: string, secret: Uint8Array): Promise<Record<string, unknown>> {
  if (token === "") throw jwtDecodeError("Empty JWT is sent in Authorization header");
  const parts = token.split(".").length;
  if (parts !== 3) throw jwtDecodeError(`Expected 3 parts in JWT; got ${parts}`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, secret, { algorithms: HMAC_ALGORITHMS }));
  } catch (error) {
    throw _decodeError(error);
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw jwtClaimsError("Parsing claims failed");
  }
  if (claims === null || typeof claims !== "object" || Array.isArray(claims)) {
    throw jwtClaimsError("Parsing claims failed");
  }
  return claims as Record<string, unknown>;
}

/** Maps jose's failures onto PostgREST's JwtDecodeError cases. */
function _decodeError(error: unknown) {
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return jwtDecodeError("Wrong or unsupported encoding algorithm", error.message);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    // jose-jwt's KeyError when no key of the JWK set verifies the signature.
    return jwtDecodeError("No suitable key or wrong key type", "None of the keys was able to decode the JWT");
  }
  return jwtDecodeError("JWT cryptographic operation failed");
}

/** `exp`, `nbf`, `iat` (with skew) and the shape of `aud`, in PostgREST's order. */
function _checkClaims(claims: Record<string, unknown>, now: number): void {
  const time = (key: string, notNumber: string): number | null => {
    const value = claims[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== "number") throw jwtClaimsError(notNumber);
    // PostgREST reads the claim with Scientific.toBoundedInteger: fractions become 0.
    return Number.isInteger(value) ? value : 0;
  };
  const exp = time("exp", "The JWT 'exp' claim must be a number");
  if (exp !== null && now - ALLOWED_SKEW_SECONDS > exp) throw jwtClaimsError("JWT expired");
  const nbf = time("nbf", "The JWT 'nbf' claim must be a number");
  if (nbf !== null && now + ALLOWED_SKEW_SECONDS < nbf) throw jwtClaimsError("JWT not yet valid");
  const iat = time("iat", "The JWT 'iat' claim must be a number");
  if (iat !== null && now + ALLOWED_SKEW_SECONDS < iat) throw jwtClaimsError("JWT issued at future");
  const aud = claims.aud;
  const audOk = aud === undefined || aud === null || typeof aud === "string" ||
    (Array.isArray(aud) && aud.every((a) => typeof a === "string"));
  // No audience is configured (as on Supabase), so any well-formed aud is accepted.
  if (!audOk) throw jwtClaimsError("The JWT 'aud' claim must be a string or an array of strings");
}

/** A string role as is; any other JSON value JSON-encoded, as PostgREST does. */
function _roleOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}

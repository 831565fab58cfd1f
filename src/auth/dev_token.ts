/**
 * Signs tokens shaped like Supabase's for embedded and local modes (and
 * tests): user access tokens and the service-role key.
 *
 * @module
 */
import { SignJWT } from "jose";

/** Options of {@linkcode signDevToken}. */
export interface DevTokenOptions {
  /** The HS256 secret. */
  secret: string;
  /** `sub`; omit for a service-role key. */
  userId?: string;
  /** `role` claim. @default "authenticated" */
  role?: string;
  /** Lifetime in seconds. @default 3600 */
  expiresInSeconds?: number;
  /** Issued-at override, seconds since the epoch (tests). */
  issuedAt?: number;
  /** `email` claim of a user token; derived from the user id when omitted, none when null. */
  email?: string | null;
}

/**
 * Signs a Supabase-shaped token: `aud: authenticated` for users, as GoTrue
 * issues them; service-role keys carry only `role` and `iss`.
 *
 * @example
 * ```ts
 * const token = await signDevToken({ secret: DEV_JWT_SECRET, userId: crypto.randomUUID() });
 * ```
 */
export function signDevToken(
  { secret, userId, role = "authenticated", expiresInSeconds = 3600, issuedAt, email }: DevTokenOptions,
): Promise<string> {
  const iat = issuedAt ?? Math.floor(Date.now() / 1000);
  const mail = email === undefined && userId ? `user-${userId.slice(0, 8)}@example.test` : email;
  let jwt = new SignJWT({ role, ...(mail ? { email: mail } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("supabase-local")
    .setIssuedAt(iat)
    .setExpirationTime(iat + expiresInSeconds);
  if (userId) jwt = jwt.setSubject(userId).setAudience("authenticated");
  return jwt.sign(new TextEncoder().encode(secret));
}

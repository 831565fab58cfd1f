/**
 * The `Idempotency-Key` header (IETF draft; Stripe's limits): required on
 * every endpoint that creates money movements.
 *
 * @module
 */
import type { Context } from "hono";
import { AppError } from "../errors.ts";

/** 1–255 visible ASCII characters (IETF draft; Stripe's limit). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's Idempotency-Key.
 *
 * @throws {AppError} `idempotency_key_missing` (400) or `idempotency_key_invalid` (400)
 */
export function idempotencyKey(c: Context): string {
  const key = c.req.header("idempotency-key");
  if (key === undefined) throw new AppError("idempotency_key_missing", { detail: "Send an Idempotency-Key header" });
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new AppError("idempotency_key_invalid", { detail: "Idempotency-Key must be 1–255 visible ASCII characters" });
  }
  return key;
}

/**
 * Opaque pagination cursors: base64url of the keyset position, so clients
 * cannot depend on (or forge meaning into) its content.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { AppError } from "../errors.ts";
import type { Cursor } from "../payments/payment_store.ts";

const cursorSchema = z.object({
  // Year 0000 is ISO 8601 but not a Postgres timestamp (22008): not a cursor of ours either.
  created_at: z.string().datetime({ offset: true }).refine((text) => !text.startsWith("0000")),
  id: z.guid(),
});

/** Encodes a keyset position. */
export function encodeCursor(cursor: Cursor | null): string | null {
  if (!cursor) return null;
  const bytes = new TextEncoder().encode(JSON.stringify({ created_at: cursor.created_at, id: cursor.id }));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Decodes a cursor from a query string.
 * @throws {AppError} `validation_failed` when it is not one of ours
 */
export function decodeCursor(text: string | undefined): Cursor | null {
  if (!text) return null;
  try {
    const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
    return cursorSchema.parse(JSON.parse(json));
  } catch {
    throw new AppError("validation_failed", {
      detail: "cursor is not valid",
      extras: { errors: [{ path: "cursor", message: "Invalid cursor" }] },
    });
  }
}

/**
 * The `limit` and `cursor` query parameters of a listing, validated by the
 * route (422 `validation_failed` listing what is wrong): `limit` 1..100
 * (default 20), `cursor` one of ours or absent.
 */
export const pageQuerySchema = z.object({
  limit: z.string().optional().transform((text, ctx) => {
    if (text === undefined) return 20;
    const n = Number(text);
    if (Number.isInteger(n) && n >= 1 && n <= 100) return n;
    ctx.addIssue({ code: "custom", message: "limit must be an integer from 1 to 100" });
    return z.NEVER;
  }).openapi({
    param: { name: "limit", in: "query" },
    description: "Items per page, 1 to 100",
    type: "integer",
    minimum: 1,
    maximum: 100,
    default: 20,
  }),
  cursor: z.string().optional().transform((text, ctx) => {
    try {
      return decodeCursor(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "cursor is not valid" });
      return z.NEVER;
    }
  }).openapi({
    param: { name: "cursor", in: "query" },
    description: "`next_cursor` of the previous page (opaque)",
    type: "string",
  }),
});

/**
 * Small helpers for HTTP tests: JSON requests with a bearer token and
 * assertions in the order STYLE.md asks for (status, content type, body).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { TestStack } from "./stack.ts";

/** Sends a JSON request as `token`, to a running stack or an in-process app (anything with `request`). */
export function send(
  stack: Pick<TestStack, "request">,
  method: string,
  path: string,
  { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  return stack.request(path, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
}

/** Asserts a problem+json answer with `status` and `code`; returns the body. */
export async function expectProblem(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = JSON.parse(text);
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.ok(typeof body.title === "string" && typeof body.detail === "string" && typeof body.type === "string");
  assert.ok(res.headers.get("x-request-id"));
  return body;
}

/** Asserts a JSON answer with `status`; returns the body. */
export async function expectJson<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return JSON.parse(text) as T;
}

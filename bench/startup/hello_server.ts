/**
 * The start-up baseline: the smallest Deno HTTP server (no imports, 200 on
 * every path), started the way the service is. What the service adds to
 * start-up time and memory is measured against it, in the same run.
 *
 * @module
 */
Deno.serve(
  { port: Number(Deno.env.get("PORT") ?? 8000), hostname: "127.0.0.1", onListen: () => {} },
  () => Response.json({ status: "ok" }),
);

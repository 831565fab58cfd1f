/**
 * Ports for tests that start their own servers, or need one nothing answers on.
 *
 * @module
 */

/** A free TCP port on 127.0.0.1 (bound, then released): for a server to start on, or as a port nothing listens on. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

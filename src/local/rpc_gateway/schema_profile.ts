/**
 * Schema selection through profile headers (`getSchema` in
 * `ApiRequest.hs`): POST reads `Content-Profile`, GET/HEAD read
 * `Accept-Profile`; without the header the first exposed schema is used.
 *
 * @module
 */
import { unacceptableSchema } from "./api_error.ts";

/** The schema a request addresses. */
export interface SchemaChoice {
  /** The schema. */
  schema: string;
  /**
   * Whether the schema was negotiated (a profile header was sent, or several
   * schemas are exposed): the response then carries `Content-Profile`.
   */
  negotiated: boolean;
}

/** Methods that send a body use `Content-Profile`; the others `Accept-Profile`. */
const _CONTENT_PROFILE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Picks the schema of a request.
 *
 * @param method the HTTP method
 * @param headers the request headers
 * @param exposed the exposed schemas, the first being the default
 * @returns the schema and whether it was negotiated
 * @throws {ApiError} 406 PGRST106 when the header names a schema that is not exposed
 */
export function chooseSchema(method: string, headers: Headers, exposed: readonly string[]): SchemaChoice {
  const profile = headers.get(_CONTENT_PROFILE_METHODS.has(method) ? "content-profile" : "accept-profile");
  if (profile === null) return { schema: exposed[0]!, negotiated: exposed.length !== 1 };
  if (!exposed.includes(profile)) throw unacceptableSchema(profile, exposed);
  return { schema: profile, negotiated: true };
}

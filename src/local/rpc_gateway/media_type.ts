/**
 * `Accept` negotiation for RPC responses: the JSON media types PostgREST
 * produces for functions.
 *
 * @module
 */
import { mediaTypeError } from "./api_error.ts";

/** The body format of a successful response. */
export interface ResponseMedia {
  /** `array`: the natural shape; `object`: exactly one row, as an object (PGRST116 otherwise). */
  kind: "json" | "array" | "object";
  /** `nulls=stripped`: drop null-valued keys (`json_strip_nulls`). */
  stripNulls: boolean;
  /** The `Content-Type` answered. */
  contentType: string;
}

interface _Accepted {
  mime: string;
  params: Map<string, string>;
  q: number;
}

/**
 * Chooses the response format from the `Accept` header. No header, `*∕*`,
 * `application/*` and `application/json` give plain JSON;
 * `application/vnd.pgrst.object(+json)` demands a single object;
 * `application/vnd.pgrst.array(+json)` is plain JSON; both accept
 * `nulls=stripped`.
 *
 * @param accept the `Accept` header, or null
 * @returns the format to produce
 * @throws {ApiError} 406 PGRST107 when no accepted type can be produced
 */
export function negotiateMedia(accept: string | null): ResponseMedia {
  if (accept === null || accept.trim() === "") return _json();
  const accepted = _parseAccept(accept);
  for (const { mime, params } of accepted) {
    const stripNulls = params.get("nulls") === "stripped";
    switch (mime) {
      case "*/*":
      case "application/*":
      case "application/json":
        return _json();
      case "application/vnd.pgrst.object":
      case "application/vnd.pgrst.object+json":
        return {
          kind: "object",
          stripNulls,
          contentType: `application/vnd.pgrst.object+json${stripNulls ? ";nulls=stripped" : ""}; charset=utf-8`,
        };
      case "application/vnd.pgrst.array":
      case "application/vnd.pgrst.array+json":
        return {
          kind: "array",
          stripNulls,
          contentType: `application/vnd.pgrst.array+json${stripNulls ? ";nulls=stripped" : ""}; charset=utf-8`,
        };
    }
  }
  throw mediaTypeError(accepted.map((a) => a.mime));
}

function _json(): ResponseMedia {
  return { kind: "json", stripNulls: false, contentType: "application/json; charset=utf-8" };
}

/** Media ranges by preference: higher `q` first, header order among equals. */
function _parseAccept(header: string): _Accepted[] {
  const ranges = header.split(",").map((part): _Accepted => {
    const [type = "", ...rawParams] = part.split(";").map((s) => s.trim());
    const params = new Map(rawParams.map((p) => {
      const eq = p.indexOf("=");
      return eq < 0 ? [p.toLowerCase(), ""] : [p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()];
    }));
    const q = Number(params.get("q") ?? "1");
    return { mime: type.toLowerCase(), params, q: Number.isNaN(q) ? 0 : q };
  }).filter((r) => r.mime !== "" && r.q > 0);
  return ranges.map((r, i) => ({ r, i })).sort((a, b) => b.r.q - a.r.q || a.i - b.i).map(({ r }) => r);
}

/**
 * The SQL that calls a function and shapes its result, modelled on
 * PostgREST's `callPlanToQuery` (`Query/QueryBuilder.hs`) and
 * `prepareCall` (`Query/Statements.hs`):
 *
 * - only the arguments sent are passed, in named notation
 *   (`fn("a" := …)`), so SQL defaults apply to the others;
 * - POST values are typed by `json_to_recordset(…) AS _("a" integer, …)`
 *   over the request body; GET values (text) are cast to the parameter type;
 * - Postgres renders the JSON (`json_agg`), so int8/numeric keep every digit
 *   and json/jsonb results pass through as the function built them;
 * - the same statement reads back `response.headers`/`response.status`,
 *   evaluated after the aggregate has consumed the function's rows.
 *
 * @module
 */
import type { ResponseMedia } from "./media_type.ts";
import type { RpcArguments } from "./rpc_arguments.ts";
import type { Routine, RoutineParam } from "./schema_cache.ts";

/** SQL text with positional parameters. */
export interface SqlStatement {
  /** The text, with `$1`, `$2`, …. */
  text: string;
  /** The values. */
  params: unknown[];
}

/** The single row the call statement returns. */
export interface CallRow extends Record<string, unknown> {
  /** Rows the function produced. */
  page_total: number;
  /** The response body, as JSON text. */
  body: string;
  /** `response.headers` set by the function, or null. */
  response_headers: string | null;
  /** `response.status` set by the function, or null. */
  response_status: string | null;
}

/**
 * Builds the call statement.
 *
 * @param routine the function chosen
 * @param args the arguments sent
 * @param media the response format (single object, stripped nulls)
 * @returns the statement, whose one row is a {@linkcode CallRow}
 */
export function callStatement(routine: Routine, args: RpcArguments, media: ResponseMedia): SqlStatement {
  const params: unknown[] = [];
  const bind = (value: unknown) => `$${params.push(value)}`;
  const fn = `${quoteIdent(routine.schema)}.${quoteIdent(routine.name)}`;
  const scalar = !routine.returnsComposite;
  const call = (argumentList: string) =>
    scalar ? `(select ${fn}(${argumentList}) pgrst_scalar) pgrst_call` : `${fn}(${argumentList}) pgrst_call`;
  const from = _fromCall(routine, args, bind, call);
  const source = `select ${scalar ? "pgrst_call.pgrst_scalar" : "pgrst_call.*"} from ${from}`;
  const text = `with pgrst_source as (${source}) ` +
    `select count(*)::int4 as page_total, ${_bodyExpression(routine, media)}::text as body, ` +
    `nullif(current_setting('response.headers', true), '') as response_headers, ` +
    `nullif(current_setting('response.status', true), '') as response_status ` +
    `from (select * from pgrst_source) _postgrest_t`;
  return { text, params };
}

function _fromCall(
  routine: Routine,
  args: RpcArguments,
  bind: (value: unknown) => string,
  call: (argumentList: string) => string,
): string {
  const [only] = routine.params;
  if (args.kind === "body" && only !== undefined && only.name === "" && routine.params.length === 1) {
    // A single unnamed json/jsonb parameter receives the whole body.
    return call(`${bind(args.json)}::text::${only.sqlType}`);
  }
  const sent = routine.params.filter((p) => args.keys.has(p.name));
  if (sent.length === 0) return call("");
  if (args.kind === "query") {
    return call(sent.map((p) => _named(p, _queryValue(p, args.values.get(p.name) ?? [], bind))).join(", "));
  }
  // PostgREST's fromJsonBodyF: an object or the first element of an array.
  const columns = sent.map((p) => `${quoteIdent(p.name)} ${p.sqlType}`).join(", ");
  return `(select ${bind(args.json)}::text::json as json_data) pgrst_payload, ` +
    `lateral (select case when json_typeof(json_data) = 'array' then json_data ` +
    `else json_build_array(json_data) end as val) pgrst_uniform_json, ` +
    `lateral (select * from json_to_recordset(pgrst_uniform_json.val) as _(${columns}) limit 1) pgrst_body, ` +
    `lateral ${call(sent.map((p) => _named(p, `pgrst_body.${quoteIdent(p.name)}`)).join(", "))}`;
}

/** A GET value: text cast to the type; a VARIADIC parameter takes every repetition. */
function _queryValue(param: RoutineParam, values: string[], bind: (value: unknown) => string): string {
  if (param.variadic) {
    return `array(select json_array_elements_text(${bind(JSON.stringify(values))}::text::json))::${param.sqlType}`;
  }
  return `${bind(values.at(-1) ?? "")}::text::${param.sqlType}`;
}

function _named(param: RoutineParam, value: string): string {
  return `${param.variadic ? "variadic " : ""}${quoteIdent(param.name)} := ${value}`;
}

/**
 * PostgREST's `asJsonF`/`asJsonSingleF`: one value (`->0`, `null` when no
 * row) for scalars, single composites and the single-object media type; an
 * array (`[]` when empty) for set-returning functions.
 */
function _bodyExpression(routine: Routine, media: ResponseMedia): string {
  const row = routine.returnsComposite ? "_postgrest_t" : "_postgrest_t.pgrst_scalar";
  const strip = (json: string) => media.stripNulls ? `json_strip_nulls(${json})` : json;
  return media.kind === "object" || !routine.returnsSet
    ? `coalesce(${strip(`json_agg(${row})->0`)}, 'null')`
    : `coalesce(${strip(`json_agg(${row})`)}, '[]')`;
}

/** `"name"` with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

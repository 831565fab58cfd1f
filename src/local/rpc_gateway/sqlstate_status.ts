/**
 * PostgREST's SQLSTATE → HTTP status table (`mapSQLtoHTTP` in
 * `src/PostgREST/Error.hs`), as a pure function.
 *
 * @module
 */

/**
 * The HTTP status PostgREST answers for a database error.
 *
 * Rows are tried top to bottom, exactly in PostgREST's order, so the specific
 * codes (`25006`, `57P01`, `53400`, `P0001`, …) win over their class.
 * Beyond the reference table it keeps two refinements PostgREST v14 has:
 * `21000` is 500 unless it is pg-safeupdate's "requires a WHERE clause"
 * (400), and `22023` "role … does not exist" (a JWT naming an unknown role)
 * is 401.
 *
 * @param code the SQLSTATE (or `PTnnn` custom status code)
 * @param message the database's message, consulted only by the two
 *   refinements above and by `42883` (`xmlagg` → 406)
 * @param authenticated whether the request ran as a role other than the
 *   anonymous one (`42501` is 403 when authenticated, 401 when anonymous)
 * @returns the HTTP status
 *
 * @example
 * ```ts
 * statusForSqlState("23505", "duplicate key", true); // 409
 * statusForSqlState("PT402", "pay first", true); // 402
 * ```
 */
export function statusForSqlState(code: string, message: string, authenticated: boolean): number {
  const cls = code.slice(0, 2);
  if (cls === "08") return 503; // connection exception
  if (cls === "09") return 500; // triggered action exception
  if (cls === "0L" || cls === "0P") return 403; // invalid grantor / role specification
  if (code === "23503" || code === "23505") return 409; // foreign key / unique violation
  if (code === "25006") return 405; // read_only_sql_transaction
  if (code === "21000") return message.endsWith("requires a WHERE clause") ? 400 : 500;
  if (code === "22023") return message.startsWith("role") && message.endsWith("does not exist") ? 401 : 400;
  if (cls === "25") return 500; // invalid transaction state
  if (cls === "28") return 403; // invalid authorization specification
  if (cls === "2D" || cls === "38" || cls === "39" || cls === "3B" || cls === "40") return 500;
  if (code === "53400") return 500; // configuration limit exceeded
  if (cls === "53") return 503; // insufficient resources
  if (cls === "54" || cls === "55") return 500; // too complex / object not in prerequisite state
  if (code === "57P01") return 503; // admin shutdown
  if (cls === "57" || cls === "58" || cls === "F0" || cls === "HV") return 500;
  if (code === "P0001") return 400; // plain RAISE EXCEPTION
  if (cls === "P0" || cls === "XX") return 500; // other PL/pgSQL errors, internal errors
  if (code === "42883") return message.startsWith("function xmlagg(") ? 406 : 404; // undefined function
  if (code === "42P01") return 404; // undefined table
  if (code === "42P17") return 500; // infinite recursion
  if (code === "42501") return authenticated ? 403 : 401; // insufficient privilege
  if (cls === "PT") return _customStatus(code.slice(2));
  return 400;
}

/**
 * `PTnnn` → nnn. PostgREST accepts any number; a Fetch `Response` only
 * accepts 200–599, so anything else (or non-digits, as in PostgREST) is 500.
 */
function _customStatus(digits: string): number {
  if (!/^\d{3}$/.test(digits)) return 500;
  const status = Number(digits);
  return status >= 200 && status <= 599 ? status : 500;
}

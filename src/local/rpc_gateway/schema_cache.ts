/**
 * The function catalogue the gateway routes on, introspected from `pg_proc`
 * like PostgREST's schema cache (`SchemaCache.hs`, `funcsSqlQuery`). It is
 * loaded once and kept: a function created later is invisible until the
 * cache is reloaded, exactly as with PostgREST (where `NOTIFY pgrst,
 * 'reload schema'` does it).
 *
 * @module
 */
import type { SqlClient } from "../../db/sql_client.ts";

/** One input parameter of a function. */
export interface RoutineParam {
  /** Parameter name; `""` for an unnamed parameter. */
  name: string;
  /** Type as PostgREST shows it (`regtype::text`), e.g. `integer`. */
  type: string;
  /** Type name safe to cast to whatever the search_path, e.g. `public.pair[]`. */
  sqlType: string;
  /** No default value: the caller must send it. */
  required: boolean;
  /** The VARIADIC parameter. */
  variadic: boolean;
}

/** `provolatile`. */
export type Volatility = "volatile" | "stable" | "immutable";

/** A callable function. */
export interface Routine {
  /** Schema. */
  schema: string;
  /** Name. */
  name: string;
  /** Input parameters in declaration order. */
  params: RoutineParam[];
  /** `SETOF …` / `TABLE (…)`. */
  returnsSet: boolean;
  /** Returns rows (composite type, OUT/INOUT/TABLE parameters). */
  returnsComposite: boolean;
  /** `RETURNS void`. */
  returnsVoid: boolean;
  /** Volatility, which decides READ ONLY vs READ WRITE for POST. */
  volatility: Volatility;
}

/** Functions by `schema.name`, overloads in `pg_proc` oid order. */
export interface SchemaCache {
  /** All routines, keyed by {@linkcode routineKey}. */
  readonly routines: ReadonlyMap<string, readonly Routine[]>;
}

/** The key of a function name in {@linkcode SchemaCache.routines}. */
export function routineKey(schema: string, name: string): string {
  return JSON.stringify([schema, name]);
}

/**
 * A function is left out, like in PostgREST, when it cannot be called
 * through the API: unnamed parameters (unless it has a single one of a type
 * that can receive a whole request body), trigger functions, procedures and
 * aggregates.
 */
const _FUNCTIONS_SQL = `
with recursive
  exposed as (select json_array_elements_text($1::text::json) as nspname),
  rec_types as (
    select oid, typbasetype, coalesce(nullif(typbasetype, 0), oid) as base_type from pg_type
    union
    select t.oid, b.typbasetype, coalesce(nullif(b.typbasetype, 0), b.oid)
    from rec_types t join pg_type b on t.typbasetype = b.oid
  ),
  base_types as (select oid, base_type from rec_types where typbasetype = 0),
  all_args as (
    select p.oid, a.idx, a.type, coalesce(p.proargmodes[a.idx], 'i') as mode,
      case when p.proargnames is null then null else coalesce(p.proargnames[a.idx], '') end as name
    from pg_proc p
    cross join lateral unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality as a(type, idx)
    where p.pronamespace in (select oid from pg_namespace where nspname in (select * from exposed))
  ),
  input_args as (
    select a.*, row_number() over (partition by a.oid order by a.idx) as pos
    from all_args a where a.mode in ('i', 'b', 'v')
  ),
  arguments as (
    select a.oid,
      json_agg(json_build_object(
        'name', coalesce(a.name, ''),
        'type', case a.type when 'bpchar'::regtype then 'character varying'
                            when '_bpchar'::regtype then 'character varying[]'
                            else a.type::regtype::text end,
        'sqlType', case a.type when 'bpchar'::regtype then 'character varying'
                               when '_bpchar'::regtype then 'character varying[]'
                               else ${_qualifiedType("a.type")} end,
        'required', a.pos <= p.pronargs - p.pronargdefaults,
        'variadic', a.mode = 'v'
      ) order by a.idx) as params,
      case count(*) - count(a.name)
        when 0 then true
        when 1 then count(*) = 1 and (array_agg(a.type))[1] in
          ('bytea'::regtype, 'json'::regtype, 'jsonb'::regtype, 'text'::regtype, 'xml'::regtype)
        else false
      end as callable
    from input_args a join pg_proc p on p.oid = a.oid
    group by a.oid
  )
select pn.nspname as schema, p.proname as name,
  coalesce(a.params, '[]'::json)::text as params,
  p.proretset as returns_set,
  (t.typtype = 'c' or coalesce(p.proargmodes::text[] && '{t,b,o}', false)) as returns_composite,
  p.prorettype = 'void'::regtype as returns_void,
  p.provolatile::text as volatility
from pg_proc p
join pg_namespace pn on pn.oid = p.pronamespace
join base_types bt on bt.oid = p.prorettype
join pg_type t on t.oid = bt.base_type
left join arguments a on a.oid = p.oid
where pn.nspname in (select * from exposed)
  and p.prokind = 'f'
  and t.oid <> 'trigger'::regtype
  and coalesce(a.callable, true)
  and has_function_privilege(p.oid, 'execute')
order by p.oid`;

/**
 * A type name that resolves whatever the search_path: catalog types by their
 * SQL name (`integer`, `timestamp with time zone`), others schema-qualified,
 * arrays as their element type plus `[]`.
 */
function _qualifiedType(oid: string): string {
  const named = (t: string, n: string) =>
    `case when ${n}.nspname = 'pg_catalog' then format_type(${t}.oid, null)
          else quote_ident(${n}.nspname) || '.' || quote_ident(${t}.typname) end`;
  return `(select case when et.oid is not null then ${named("et", "en")} || '[]' else ${named("t", "n")} end
           from pg_type t join pg_namespace n on n.oid = t.typnamespace
           left join pg_type et on et.oid = t.typelem and t.typcategory = 'A'
           left join pg_namespace en on en.oid = et.typnamespace
           where t.oid = ${oid})`;
}

interface _FunctionRow extends Record<string, unknown> {
  schema: string;
  name: string;
  params: string;
  returns_set: boolean;
  returns_composite: boolean;
  returns_void: boolean;
  volatility: string;
}

const _VOLATILITY: Record<string, Volatility> = { v: "volatile", s: "stable", i: "immutable" };

/**
 * Reads the callable functions of the exposed schemas.
 *
 * @param db the database
 * @param schemas the exposed schemas
 * @returns the cache
 */
export async function loadSchemaCache(db: SqlClient, schemas: readonly string[]): Promise<SchemaCache> {
  const rows = await db.query<_FunctionRow>(_FUNCTIONS_SQL, [JSON.stringify(schemas)]);
  const routines = new Map<string, Routine[]>();
  for (const row of rows) {
    const routine: Routine = {
      schema: row.schema,
      name: row.name,
      params: JSON.parse(row.params) as RoutineParam[],
      returnsSet: row.returns_set,
      returnsComposite: row.returns_composite,
      returnsVoid: row.returns_void,
      volatility: _VOLATILITY[row.volatility] ?? "volatile",
    };
    const key = routineKey(routine.schema, routine.name);
    routines.set(key, [...(routines.get(key) ?? []), routine]);
  }
  return { routines };
}

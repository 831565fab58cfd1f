/**
 * The database's own figure for one hot wallet, from `pgbench` (the tool
 * Postgres ships for this): a custom script runs the webhook credit's two
 * functions — `record_webhook_event` then `credit_user`, each its own
 * transaction, prepared — on payments of one owner, one pgbench client per
 * lane. Latencies come from pgbench's per-transaction log.
 *
 * @module
 */
import type { SqlClient } from "../../src/db/sql_client.ts";
import { percentile, type RunSummary } from "./stats.ts";

/** Where pgbench is, if anywhere. */
export async function findPgbench(): Promise<string | null> {
  for (const candidate of ["pgbench", "/usr/lib/postgresql/15/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench"]) {
    try {
      const out = await new Deno.Command(candidate, { args: ["--version"], stdout: "null", stderr: "null" }).output();
      if (out.success) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

// Each client numbers its own payments: k = client_id × 1e6 + i, i = 1, 2, …. pgbench substitutes
// ":name" even inside string literals, so the event key's colon is a literal of its own.
const SCRIPT = `\\set i :i + 1
\\set k :client_id * 1000000 + :i
select (public.record_webhook_event('paystack',
  'charge.success' || ':' || format('hp%sx%s', cast(:tag as int), cast(:k as bigint)),
  'charge.success', format('hp%sx%s', cast(:tag as int), cast(:k as bigint)), cast(:payload as jsonb), true,
  cast(:k as bigint)) ->> 'event_id') as eid \\gset
select public.credit_user(format('hp%sx%s', cast(:tag as int), cast(:k as bigint)), cast(:amount as bigint), 'NGN',
  cast(:payload as jsonb), cast(:k as bigint), 'pgbench', 'provider confirmed success', cast(:eid as uuid)) ->> 'outcome';
`;

let _tag = 0;

/** Options of {@linkcode runPgbenchHotWallet}. */
export interface PgbenchOptions {
  pgbench: string;
  /** The benchmark database's URL. */
  url: string;
  db: SqlClient;
  /** Clients (lanes). */
  clients: number;
  /** Credits per client. */
  perClient: number;
  /** The provider's transaction data, stored as the event and provider payload. */
  payload: string;
  amount?: number;
  deadlineSeconds: number;
}

/** Creates the payments, runs pgbench, checks they were all credited; the summary and the owner. */
export async function runPgbenchHotWallet(
  { pgbench, url, db, clients, perClient, payload, amount = 10_000, deadlineSeconds }: PgbenchOptions,
): Promise<{ summary: RunSummary; credited: number; owner: string }> {
  const tag = ++_tag + Math.floor(Math.random() * 1000) * 100;
  const owner = crypto.randomUUID();
  await db.query(
    `insert into public.payment_logs (user_id, reference, provider, amount, currency, email)
     select $1::uuid, format('hp%sx%s', $2::int, c * 1000000 + i), 'paystack', $3::bigint, 'NGN', 'payer@example.test'
     from generate_series(0, $4::int - 1) c, generate_series(1, $5::int) i`,
    [owner, tag, amount, clients, perClient],
  );
  const dir = await Deno.makeTempDir({ prefix: "bench-pgbench-" });
  try {
    await Deno.writeTextFile(`${dir}/credit.sql`, SCRIPT);
    const u = new URL(url);
    const out = await new Deno.Command(pgbench, {
      args: [
        "-n",
        "-M",
        "prepared",
        "-c",
        String(clients),
        "-j",
        "1",
        "-t",
        String(perClient),
        "-f",
        `${dir}/credit.sql`,
        "-D",
        `tag=${tag}`,
        "-D",
        "i=0",
        "-D",
        `amount=${amount}`,
        "-D",
        `payload=${payload}`,
        "--log",
        `--log-prefix=${dir}/tx`,
        "-h",
        u.hostname,
        "-p",
        u.port || "5432",
        "-U",
        decodeURIComponent(u.username) || "postgres",
        u.pathname.slice(1),
      ],
      env: u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {},
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(deadlineSeconds * 1000),
    }).output();
    if (!out.success) throw new Error(`pgbench failed: ${new TextDecoder().decode(out.stderr).slice(0, 500)}`);
    // pgbench has no warm-up: each client's first transaction opens its backend's function caches. The rate
    // is taken from the per-transaction log after every client has finished its first transaction.
    const byClient = new Map<string, Array<{ latencyMs: number; endMs: number }>>();
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith("tx")) continue;
      for (const line of (await Deno.readTextFile(`${dir}/${entry.name}`)).split("\n")) {
        const [client, , us, , epoch, epochUs] = line.trim().split(" ");
        if (client === undefined || epochUs === undefined) continue;
        const list = byClient.get(client) ?? [];
        list.push({ latencyMs: Number(us) / 1000, endMs: Number(epoch) * 1000 + Number(epochUs) / 1000 });
        byClient.set(client, list);
      }
    }
    const warm = Math.max(...[...byClient.values()].map((list) => Math.min(...list.map((t) => t.endMs))));
    const after = [...byClient.values()].flat().filter((t) => t.endMs > warm);
    const last = Math.max(...after.map((t) => t.endMs));
    const latencies = after.map((t) => t.latencyMs);
    const [row] = await db.query<{ n: string }>(
      `select count(*) as n from public.payment_logs where user_id = $1 and state = 'completed'`,
      [owner],
    );
    return {
      summary: {
        count: latencies.length,
        errors: clients * perClient - Number(row!.n),
        perSecond: after.length > 0 && last > warm ? (after.length / (last - warm)) * 1000 : NaN,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        wallMs: last - warm,
      },
      credited: Number(row!.n),
      owner,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { ApiError, ident, selectSql, statusOfSqlState } from './postgrest-query.ts';

/**
 * A small PostgREST-compatible server over a real Postgres, serving exactly what SupabaseStore
 * asks: POST /rest/v1/rpc/<fn> and GET /rest/v1/<table or view> with the filters in
 * postgrest-query.ts, schema chosen by Accept-Profile / Content-Profile, the apikey and
 * Authorization headers checked against one service-role key. Each request runs in its own
 * transaction as the `service_role` database role when that role exists (as PostgREST does
 * after verifying the JWT), so missing grants show up here too. docs/store.md says what it
 * does not do.
 */
export interface StandinOptions {
  databaseUrl: string;
  serviceRoleKey: string;
  /** PostgREST's db-schemas: the first is the default. */
  schemas?: string[];
}

export interface Standin {
  /** What SUPABASE_URL would be. */
  url: string;
  /** Every request served: method and path (no query), for assertions. */
  requests: Array<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

interface FnArg {
  name: string;
  type: string;
}
/**
 * How PostgREST shapes a function's result (since PostgREST 8, PR #1615/#1931): a set of rows
 * (setof composite, RETURNS TABLE even with one column) → array of objects; setof scalar →
 * array of values; one composite → object; one scalar → the value.
 */
type Shape = 'rows' | 'values' | 'object' | 'value';
interface FnInfo {
  args: FnArg[];
  shape: Shape;
}

/** @example const api = await startPostgrestStandin({ databaseUrl, serviceRoleKey: 'key' }); createClient(api.url, 'key') */
export async function startPostgrestStandin(options: StandinOptions): Promise<Standin> {
  const schemas = options.schemas ?? ['aiproc'];
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 8 });
  pool.on('error', () => {});
  const functions = new Map<string, FnInfo | null>();
  const requests: Standin['requests'] = [];
  let role: string | null = null;

  const lookup = async (schema: string, name: string): Promise<FnInfo | null> => {
    const key = `${schema}.${name}`;
    if (!functions.has(key)) {
      const { rows } = await pool.query(
        `select case when p.proretset and (t.typtype = 'c' or p.proargmodes && array['o', 't']::"char"[]) then 'rows'
                     when p.proretset then 'values'
                     when t.typtype = 'c' or p.proargmodes && array['o', 'b']::"char"[] then 'object'
                     else 'value' end as shape,
                coalesce((select json_agg(json_build_object('name', a.name, 'type', format_type(a.type, null)) order by a.n)
                            from unnest(p.proargnames, coalesce(p.proallargtypes, p.proargtypes::oid[]),
                                        coalesce(p.proargmodes, array_fill('i'::"char", array[cardinality(p.proargnames)])))
                                 with ordinality as a(name, type, mode, n)
                           where a.mode in ('i', 'b')), '[]') as args
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_type t on t.oid = p.prorettype
          where n.nspname = $1 and p.proname = $2`,
        [schema, name],
      );
      functions.set(key, rows.length === 1 ? { shape: rows[0].shape, args: rows[0].args } : null);
    }
    return functions.get(key) ?? null;
  };

  const rpcSql = (schema: string, name: string, fn: FnInfo, body: Record<string, unknown>) => {
    const values: unknown[] = [];
    const named = Object.entries(body).map(([k, v]) => {
      const arg = fn.args.find((a) => a.name === k);
      if (!arg) throw new ApiError(404, 'PGRST202', `Could not find the function ${schema}.${name}(${Object.keys(body).join(', ')}) in the schema cache`);
      const json = arg.type === 'jsonb' || arg.type === 'json';
      values.push(json ? JSON.stringify(v) : v);
      return `${ident(k)} => $${values.length}::${arg.type}`;
    });
    const call = `${ident(schema)}.${ident(name)}(${named.join(', ')})`;
    const text = {
      rows: `select coalesce(json_agg(r), '[]'::json) as body from (select * from ${call}) r`,
      values: `select coalesce(json_agg(v), '[]'::json) as body from ${call} v`,
      object: `select to_json(r) as body from (select * from ${call}) r`,
      value: `select to_json(${call}) as body`,
    }[fn.shape];
    return { text, values };
  };

  const profile = (req: IncomingMessage, header: string): string => {
    const asked = req.headers[header];
    const schema = typeof asked === 'string' ? asked : schemas[0]!;
    if (!schemas.includes(schema)) throw new ApiError(406, 'PGRST106', `The schema must be one of the following: ${schemas.join(', ')}`);
    return schema;
  };

  const handle = async (req: IncomingMessage, url: URL): Promise<unknown> => {
    if (req.headers.apikey !== options.serviceRoleKey) throw new ApiError(401, '', 'Invalid API key');
    if (req.headers.authorization !== `Bearer ${options.serviceRoleKey}`) throw new ApiError(401, 'PGRST301', 'JWT invalid');
    const path = url.pathname.replace(/^\/rest\/v1\//, '');
    if (path === url.pathname) throw new ApiError(404, '', 'not found');
    let query: { text: string; values: unknown[] };
    let readOnly: boolean;
    if (req.method === 'POST' && path.startsWith('rpc/')) {
      const schema = profile(req, 'content-profile');
      const name = path.slice(4);
      ident(name);
      const fn = await lookup(schema, name);
      if (!fn) throw new ApiError(404, 'PGRST202', `Could not find the function ${schema}.${name} in the schema cache`);
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req)) || '{}');
      } catch {
        throw new ApiError(400, 'PGRST102', 'Empty or invalid json');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'PGRST102', 'expected a JSON object');
      query = rpcSql(schema, name, fn, body as Record<string, unknown>);
      readOnly = false;
    } else if (req.method === 'GET' && !path.includes('/')) {
      const schema = profile(req, 'accept-profile');
      const sql = selectSql(schema, path, url.searchParams);
      const { rows } = await pool.query('select to_regclass($1) is not null as found', [`${ident(schema)}.${ident(path)}`]);
      if (!rows[0].found) throw new ApiError(404, 'PGRST205', `Could not find the table '${schema}.${path}' in the schema cache`);
      query = { text: `select coalesce(json_agg(r), '[]'::json) as body from (${sql.text}) r`, values: sql.values };
      readOnly = true;
    } else {
      throw new ApiError(405, 'PGRST101', `${req.method} /${path} is not served by the stand-in`);
    }
    const client = await pool.connect().catch((err: Error) => {
      throw new ApiError(503, 'PGRST000', `Could not connect with the database: ${err.message}`);
    });
    try {
      await client.query(readOnly ? 'begin read only' : 'begin');
      if (role) await client.query(`set local role ${role}`);
      const { rows } = await client.query(query.text, query.values);
      await client.query('commit');
      return rows[0]?.body;
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://standin');
    const reply = (status: number, body: unknown) => {
      requests.push({ method: req.method ?? '', path: url.pathname, status });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    handle(req, url).then(
      (body) => reply(200, body ?? null),
      (err: unknown) => {
        if (err instanceof ApiError) return reply(err.status, { code: err.code, message: err.message, details: null, hint: null });
        const e = err as { code?: string; message?: string; detail?: string; hint?: string };
        if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
          return reply(statusOfSqlState(e.code), { code: e.code, message: e.message, details: e.detail ?? null, hint: e.hint ?? null });
        }
        reply(503, { code: 'PGRST000', message: `Could not connect with the database: ${e.message}`, details: null, hint: null });
      },
    );
  });

  const { rows } = await pool.query("select exists (select from pg_roles where rolname = 'service_role') as has");
  role = rows[0].has ? 'service_role' : null;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

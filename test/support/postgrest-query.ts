// Query-string → SQL for the PostgREST stand-in: the subset of PostgREST's read syntax that
// SupabaseStore uses (select, eq/neq/gt/gte/lt/lte/in/is filters, order, limit, offset).

/** An error PostgREST would answer with (status + its JSON body). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const IDENT = /^[a-z_][a-z0-9_]*$/;
const OPS: Record<string, string> = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };
const RESERVED = new Set(['select', 'order', 'limit', 'offset', 'columns', 'on_conflict']);

const JSON_TEXT = /^([a-z_][a-z0-9_]*)->>([A-Za-z0-9_]+)$/;

export function ident(name: string): string {
  if (!IDENT.test(name)) throw new ApiError(400, 'PGRST100', `"${name}" is not a column this stand-in accepts`);
  return `"${name}"`;
}

/** PostgREST's list syntax: `(a,b,"c,d")`. */
export function parseList(text: string): string[] {
  if (!text.startsWith('(') || !text.endsWith(')')) throw new ApiError(400, 'PGRST100', `bad list ${text}`);
  const body = text.slice(1, -1);
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (quoted) {
      if (ch === '\\' && i + 1 < body.length) cur += body[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (body.length > 0) out.push(cur);
  return out;
}

/**
 * Builds `select … from schema.table where … order by … limit …` for a GET on a table or view,
 * with every value as a parameter.
 */
export function selectSql(schema: string, table: string, params: URLSearchParams): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const p = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const select = params.get('select') ?? '*';
  const columns = select === '*' ? '*' : select.split(',').map((c) => ident(c.trim())).join(', ');
  const where: string[] = [];
  for (const [key, raw] of params) {
    if (RESERVED.has(key)) continue;
    // PostgREST's JSON path filter, `meta->>user=eq.x`: a text field of a jsonb column.
    const json = JSON_TEXT.exec(key);
    const col = json ? `${ident(json[1]!)} ->> '${json[2]}'` : ident(key);
    const dot = raw.indexOf('.');
    const op = dot < 0 ? raw : raw.slice(0, dot);
    const value = dot < 0 ? '' : raw.slice(dot + 1);
    if (op in OPS) where.push(`${col} ${OPS[op]} ${p(value)}`);
    else if (op === 'in') {
      const list = parseList(value);
      where.push(list.length === 0 ? 'false' : `${col} in (${list.map(p).join(', ')})`);
    } else if (op === 'is') {
      if (!['null', 'true', 'false'].includes(value)) throw new ApiError(400, 'PGRST100', `is.${value}`);
      where.push(`${col} is ${value}`);
    } else throw new ApiError(400, 'PGRST100', `operator "${op}" is not served by the stand-in`);
  }
  const order = (params.get('order') ?? '')
    .split(',')
    .filter(Boolean)
    .map((term) => {
      const [col, ...mods] = term.split('.');
      const dir = mods.includes('desc') ? 'desc' : 'asc';
      const nulls = mods.includes('nullsfirst') ? ' nulls first' : mods.includes('nullslast') ? ' nulls last' : '';
      return `${ident(col!)} ${dir}${nulls}`;
    });
  const int = (name: string) => {
    const v = params.get(name);
    if (v === null) return null;
    if (!/^\d+$/.test(v)) throw new ApiError(400, 'PGRST100', `${name}=${v}`);
    return Number(v);
  };
  const limit = int('limit');
  const offset = int('offset');
  const text =
    `select ${columns} from ${ident(schema)}.${ident(table)}` +
    (where.length ? ` where ${where.join(' and ')}` : '') +
    (order.length ? ` order by ${order.join(', ')}` : '') +
    (limit !== null ? ` limit ${limit}` : '') +
    (offset !== null ? ` offset ${offset}` : '');
  return { text, values };
}

/** PostgREST's SQLSTATE → HTTP status table (docs: references/errors, "HTTP Status Codes"). */
export function statusOfSqlState(code: string): number {
  const exact: Record<string, number> = {
    '23503': 409, '23505': 409, '25006': 405, '53400': 500, P0001: 400, '42883': 404, '42P01': 404, '42501': 403,
  };
  if (code in exact) return exact[code]!;
  const byClass: Array<[string, number]> = [
    ['08', 503], ['09', 500], ['0L', 403], ['0P', 403], ['25', 500], ['28', 403], ['2D', 500], ['38', 500],
    ['39', 500], ['3B', 500], ['40', 500], ['53', 503], ['54', 413], ['55', 500], ['57', 500], ['58', 500],
    ['F0', 500], ['HV', 500], ['P0', 500], ['XX', 500],
  ];
  for (const [prefix, status] of byClass) if (code.startsWith(prefix)) return status;
  return 400;
}

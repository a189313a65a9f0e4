import { BadInputError } from './errors.ts';

/**
 * The path of the first string (or object key) in a JSON value that is not well-formed UTF-16 —
 * a lone surrogate, which no database or model can take — or null when there is none.
 * @example illFormedPath({ messages: [{ content: 'a\uD800' }] }) // 'messages[0].content'
 */
export function illFormedPath(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.isWellFormed() ? null : path || '(the value)';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = illFormedPath(value[i], `${path}[${i}]`);
      if (p) return p;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const here = path ? `${path}.${k}` : k;
      if (!k.isWellFormed()) return here;
      const p = illFormedPath(v, here);
      if (p) return p;
    }
  }
  return null;
}

/**
 * Throws BadInputError (400) naming the field when a value holds a lone surrogate.
 * @example requireWellFormed(body) // before anything is stored or sent to a model
 */
export function requireWellFormed(value: unknown, prefix = ''): void {
  const path = illFormedPath(value, prefix);
  if (path) throw new BadInputError(`${path}: text holds a lone UTF-16 surrogate (not valid Unicode)`, { param: path });
}

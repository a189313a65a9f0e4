import { Ajv, type ValidateFunction } from 'ajv';

/**
 * JSON Schema checks for structured output (response_format json_schema): is the client's schema
 * a schema, and does the model's answer follow it. Unknown keywords are allowed (clients add
 * their own annotations); a schema that breaks the meta-schema or cannot compile is refused.
 */
const ajv = new Ajv({ strict: false, allErrors: false });
const compiled = new Map<string, ValidateFunction>();

function compile(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (!fn) {
    fn = ajv.compile(schema);
    if (compiled.size > 200) compiled.clear();
    compiled.set(key, fn);
  }
  return fn;
}

/**
 * Why a schema is not a usable JSON schema, or undefined when it is.
 * @example schemaProblem({ type: 'nope' }) // 'data/type must be equal to one of the allowed values …'
 */
export function schemaProblem(schema: Record<string, unknown>): string | undefined {
  try {
    if (!ajv.validateSchema(schema)) return ajv.errorsText(ajv.errors);
    compile(schema);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Why a text does not follow the output format (`json`: any JSON object; a schema: that schema), or undefined when it does.
 * @example answerProblem('{"a":1}', { type: 'object', required: ['b'] }) // "the answer must have required property 'b'"
 */
export function answerProblem(text: string, format: 'json' | Record<string, unknown>): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `the answer is not JSON (${(err as Error).message})`;
  }
  if (format === 'json') return value !== null && typeof value === 'object' && !Array.isArray(value) ? undefined : 'the answer is JSON but not an object';
  const validate = compile(format);
  return validate(value) ? undefined : ajv.errorsText(validate.errors, { dataVar: 'the answer' });
}

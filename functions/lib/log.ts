import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

export type { Logger };

/** How log lines are written: `pretty` for a person at a terminal, `json` for machines. */
export type LogFormat = 'pretty' | 'json';

const LogFormatSchema = z.enum(['pretty', 'json']);

/**
 * The format from `LOG_FORMAT`, or, when it is unset, pretty on a terminal and JSON lines
 * everywhere else (a pipe, a file, a container's log).
 * @example logFormatOf({ LOG_FORMAT: 'json' }, true) // 'json'
 */
export function logFormatOf(env: Record<string, string | undefined> = process.env, tty: boolean = process.stderr.isTTY === true): LogFormat {
  if (!env.LOG_FORMAT) return tty ? 'pretty' : 'json';
  const parsed = LogFormatSchema.safeParse(env.LOG_FORMAT);
  if (!parsed.success) throw new ConfigError(`LOG_FORMAT must be pretty or json, not ${JSON.stringify(env.LOG_FORMAT)}`);
  return parsed.data;
}

/** pino-pretty, in this thread (no transport worker), writing synchronously to stderr. */
function prettyStream(): DestinationStream {
  // Loaded only when chosen: a container writing JSON never pays for it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: Record<string, unknown>) => DestinationStream;
  return pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
}

/**
 * The process logger on stderr (stdout stays free for what a person reads): pretty lines on a
 * terminal, JSON lines otherwise (see logFormatOf).
 * @example const log = createLogger('info').child({ fn: 'merger' })
 */
export function createLogger(level: string = 'info', bindings: Record<string, unknown> = {}, format: LogFormat = logFormatOf(), opts: { mixin?: () => object } = {}): Logger {
  // The mixin (tracing on: the current trace and span ids) is added to every line.
  return pino({ level, base: { ...bindings }, ...(opts.mixin && { mixin: opts.mixin }) }, format === 'pretty' ? prettyStream() : pino.destination(2));
}

import { statSync } from 'node:fs';
import { basename } from 'node:path';
import {
  getLlama,
  InsufficientMemoryError,
  LlamaLogLevel,
  NoBinaryFoundError,
  type Llama,
  type LlamaContext,
  type LlamaModel,
} from 'node-llama-cpp';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface LoadOptions {
  /** The GGUF file. */
  modelPath: string;
  /** Tokens each sequence can hold (prompt + answer). */
  contextSize: number;
  /** Chats served at once; each gets its own sequence of `contextSize` tokens. */
  sequences: number;
  /** `'auto'` uses CUDA/Vulkan/Metal when a prebuilt binary for them loads, else the CPU. @default 'auto' */
  gpu?: 'auto' | false;
  log: Logger;
}

export interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  /** Frees the context and the model (llama.cpp itself stays loaded for the process). */
  release: () => Promise<void>;
}

type LogListener = (level: LlamaLogLevel, message: string) => void;
const logListeners = new Set<LogListener>();
let llamaPromise: Promise<Llama> | undefined;

/**
 * llama.cpp's native binding is one per process (its log callback too, and disposing a Llama
 * leaves later ones logging raw to stderr), so every model in the process shares one Llama;
 * each load listens to its log while it lives. The first caller's `gpu` choice holds.
 */
function sharedLlama(gpu: 'auto' | false): Promise<Llama> {
  llamaPromise ??= getLlama({
    build: 'never',
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    gpu,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => logListeners.forEach((listen) => listen(level, message)),
  }).catch((err: unknown) => {
    llamaPromise = undefined;
    const why = err instanceof NoBinaryFoundError ? 'none of its prebuilt binaries loads' : (err as Error).message;
    throw new ConfigError(
      `node-llama-cpp cannot run llama.cpp on this machine (${process.platform}-${process.arch}): ${why}. ` +
        'Reinstall with `npm ci` (its install step must be allowed), or use Ollama instead (OLLAMA_HOST).',
    );
  });
  return llamaPromise;
}

/** llama.cpp's own log lines go to pino; the recent error lines explain a failed load. */
function llamaLogger(log: Logger, recent: string[]) {
  return (level: LlamaLogLevel, message: string) => {
    const text = message.trim();
    if (!text) return;
    if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
      recent.push(text);
      if (recent.length > 20) recent.shift();
      log.debug({ llama: level }, text);
    } else if (level === LlamaLogLevel.warn) log.debug({ llama: level }, text);
    else log.trace({ llama: level }, text);
  };
}

/** Turns llama.cpp's reasons for refusing a file into one sentence that names the file. */
export function explainLoadFailure(path: string, err: unknown, recent: readonly string[], context?: { contextSize: number; sequences: number }): ConfigError {
  const file = `the model file ${path}`;
  if (err instanceof ConfigError) return err;
  if (err instanceof Error && /GGUF magic/i.test(err.message)) return new ConfigError(`${file} is not a GGUF file (${err.message}); point AIPROC_MODEL at a .gguf model`);
  if (err instanceof InsufficientMemoryError)
    return context
      ? new ConfigError(`the context for ${path} (${context.sequences} × ${context.contextSize} tokens) needs more memory than this machine has free (${err.message}); lower embedded.contextSize or embedded.sequences in the models config`)
      : new ConfigError(`${file} needs more memory than this machine has free (${err.message}); use a smaller or more quantised model`);
  const arch = recent.map((l) => /unknown model architecture: '([^']+)'/.exec(l)?.[1]).find(Boolean);
  if (arch) return new ConfigError(`${file} has the model architecture '${arch}', which this build of llama.cpp (node-llama-cpp) does not support; use another model, a newer node-llama-cpp, or serve it with Ollama (OLLAMA_HOST)`);
  const detail = recent.find((l) => /error loading model|failed to read|failed to load/i.test(l)) ?? (err instanceof Error ? err.message : String(err));
  return new ConfigError(`${file} could not be loaded, it is probably truncated or corrupt (${detail}); download it again or point AIPROC_MODEL at another GGUF`);
}

/**
 * Loads llama.cpp (a prebuilt binary only: never downloads or compiles at run time), the model
 * and one context with `sequences` sequences. Every failure is a ConfigError that names the file.
 * @example const { model, context } = await loadLlamaModel({ modelPath, contextSize: 4096, sequences: 4, log })
 */
export async function loadLlamaModel(opts: LoadOptions): Promise<Loaded> {
  const { modelPath, log } = opts;
  let stat;
  try {
    stat = statSync(modelPath);
  } catch {
    throw new ConfigError(`the model file ${modelPath} does not exist; set AIPROC_MODEL to a .gguf file or put one in the data folder's models/`);
  }
  if (!stat.isFile()) throw new ConfigError(`the model path ${modelPath} is not a file; set AIPROC_MODEL to a .gguf file`);

  const recent: string[] = [];
  const listener = llamaLogger(log, recent);
  const llama = await sharedLlama(opts.gpu ?? 'auto');
  logListeners.add(listener);

  let model: LlamaModel | undefined;
  let phase: 'model' | 'context' = 'model';
  try {
    model = await llama.loadModel({ modelPath });
    phase = 'context';
    const context = await model.createContext({
      contextSize: opts.contextSize,
      sequences: opts.sequences,
      // Without a GPU, one thread per core that does math; more only fight each other.
      ...(llama.gpu === false ? { threads: Math.max(1, llama.cpuMathCores) } : {}),
    });
    log.debug({ file: basename(modelPath), gpu: llama.gpu, contextSize: context.contextSize, sequences: opts.sequences }, 'embedded model loaded');
    const loadedModel = model;
    const release = async () => {
      await context.dispose();
      await loadedModel.dispose();
      logListeners.delete(listener);
    };
    return { llama, model, context, release };
  } catch (err) {
    await model?.dispose().catch(() => {});
    logListeners.delete(listener);
    throw explainLoadFailure(modelPath, err, recent, phase === 'context' ? opts : undefined);
  }
}

/**
 * Reads an OpenAI chat-completions SSE stream as it arrives, keeping the answer (`content`), the
 * progress (`reasoning`) and every piece in arrival order, so a test can wait for the stream to
 * reach a point (`until`) and assert on what had, and had not, arrived by then — order, not time.
 * @example const r = readCompletionStream(res); await r.until((s) => s.content.includes('alpha')); … await r.done
 */
export interface StreamState {
  content: string;
  reasoning: string;
  /** Each delta in arrival order. */
  pieces: Array<{ kind: 'content' | 'reasoning'; text: string }>;
  ended: boolean;
}

export function readCompletionStream(res: Response) {
  const state: StreamState = { content: '', reasoning: '', pieces: [], ended: false };
  const waiters: Array<{ check: (s: StreamState) => boolean; resolve: () => void; reject: (e: Error) => void; what: string }> = [];
  const settle = () => {
    for (const w of [...waiters]) {
      if (w.check(state)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      } else if (state.ended) {
        waiters.splice(waiters.indexOf(w), 1);
        w.reject(new Error(`the stream ended before ${w.what}; content so far: ${JSON.stringify(state.content)}`));
      }
    }
  };
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const bytes of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (!data || data === '[DONE]') continue;
        const delta = JSON.parse(data).choices?.[0]?.delta ?? {};
        if (delta.reasoning_content) {
          state.reasoning += delta.reasoning_content;
          state.pieces.push({ kind: 'reasoning', text: delta.reasoning_content });
        }
        if (delta.content) {
          state.content += delta.content;
          state.pieces.push({ kind: 'content', text: delta.content });
        }
      }
      settle();
    }
    state.ended = true;
    settle();
    return state;
  })();
  return {
    state,
    done,
    /** Resolves once `check` holds (checked after each network read); rejects if the stream ends first. */
    until(check: (s: StreamState) => boolean, what = 'the expected point'): Promise<void> {
      if (check(state)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiters.push({ check, resolve, reject, what });
        settle();
      });
    },
  };
}

/**
 * Polls a condition that has no event to wait on (state in another process), with a deadline.
 * Prefer waiting on an event; use this only where there is none.
 * @example await waitFor(() => ollama.aborted >= 3, 'three generations stopped')
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

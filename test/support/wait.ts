/**
 * Polls a condition that has no event to wait on (state in another process), with a deadline.
 * Prefer waiting on an event; use this only where there is none.
 * @example await waitFor('three generations stopped', () => ollama.aborted >= 3)
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

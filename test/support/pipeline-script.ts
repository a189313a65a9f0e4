import { roleOf, type ReceivedChat, type Reply } from './scripted-ollama.ts';

/**
 * The scripted models' behaviour for pipeline tests, keyed on words in the user's question:
 * - "three topics": the planner splits into three parts on three models;
 * - "two topics with FAIL": two parts, the part whose prompt says FAIL errors (HTTP 500);
 * - "all FAIL": two parts that both error;
 * - anything else: one part (fast path).
 * Parts answer `answer(<prompt>)`; the merger's rewrite answers `MERGED[<n> sections]`; the joins of
 * a stitched answer are `OPENING` and `CLOSING`.
 */
export function pipelineScript(req: ReceivedChat): Reply {
  const role = roleOf(req);
  const user = req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
  if (role === 'planner') {
    if (/three topics/i.test(user))
      return {
        content: JSON.stringify({
          parts: [
            { title: 'Alpha', prompt: 'Explain alpha.', model: 'codellama-7b' },
            { title: 'Beta', prompt: 'Explain beta.', model: 'codellama-34b' },
            { title: 'Gamma', prompt: 'Explain gamma.', model: 'codellama-70b' },
          ],
        }),
      };
    if (/all FAIL/.test(user))
      return { content: JSON.stringify({ parts: [{ title: 'One', prompt: 'FAIL one', model: 'codellama-7b' }, { title: 'Two', prompt: 'FAIL two', model: 'codellama-34b' }] }) };
    if (/FAIL/.test(user))
      return { content: JSON.stringify({ parts: [{ title: 'Good', prompt: 'Explain good.', model: 'codellama-7b' }, { title: 'Bad', prompt: 'FAIL bad', model: 'codellama-34b' }] }) };
    if (/garbage plan/i.test(user)) return { content: 'this is not json' };
    if (/repeated parts/i.test(user))
      return { content: JSON.stringify({ parts: [{ title: 'A', prompt: 'Explain alpha.', model: 'codellama-7b' }, { title: 'A again', prompt: 'explain alpha.', model: 'codellama-34b' }, { title: 'B', prompt: 'Explain beta.', model: 'codellama-7b' }] }) };
    if (/unknown model/i.test(user))
      return { content: JSON.stringify({ parts: [{ title: 'A', prompt: 'Explain alpha.', model: 'gpt-9' }, { title: 'B', prompt: 'Explain beta.', model: 'codellama-70b' }] }) };
    return { content: JSON.stringify({ parts: [{ title: 'Answer', prompt: user, model: 'codellama-34b' }] }) };
  }
  if (role === 'merger') {
    if (/open the answer/.test(user)) return { content: 'OPENING' };
    if (/Write a closing/.test(user)) return { content: 'CLOSING' };
    const n = (req.messages.at(-1)?.content.match(/^### /gm) ?? []).length;
    return { content: `MERGED[${n} sections]`, chunks: 3 };
  }
  if (/FAIL/.test(user)) return { error: 'scripted failure', status: 500 };
  return { content: `answer(${user})`, chunks: 5 };
}

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVhost } from '../bus/amqp-support.ts';
import { freshDatabase } from '../store/fresh-database.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type Reply, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { readCompletionStream } from '../support/sse-reader.ts';
import { waitFor } from '../support/wait.ts';
import { startCluster, type ClusterProcess } from './support.ts';

/*
 * Stitched synthesis (the default) across `npm run cluster`'s processes on the real RabbitMQ:
 * each part's text travels from its inference process to the splitter that owns the request
 * (job.delta with the part index), the merger writes the opening while the parts run and the
 * closing at the end, and the splitter puts the parts in plan order.
 */

const lastUser = (req: ReceivedChat) => req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
const allText = (req: ReceivedChat) => req.messages.map((m) => m.content).join('\n');
const SLUGS = ['codellama-7b', 'codellama-34b', 'codellama-70b'];
const holds = new Map<string, Promise<void>>();

function script(req: ReceivedChat): Reply | Promise<Reply> {
  const role = roleOf(req);
  const user = lastUser(req);
  if (role === 'planner') {
    const m = /job (\S+) parts=(\d+)( dependent)?/.exec(user);
    const n = Number(m?.[2] ?? 1);
    const parts = Array.from({ length: n }, (_, i) => ({
      title: `Part ${i}`,
      prompt: `${m?.[1]} part ${i}`,
      model: SLUGS[i % SLUGS.length],
      ...(m?.[3] && i === n - 1 && { after: [0] }),
    }));
    return { content: JSON.stringify({ parts }) };
  }
  const tag = /job (\S+) parts/.exec(allText(req))?.[1] ?? '?';
  if (role === 'merger') return { content: /open the answer/.test(user) ? `OPENING ${tag}` : `CLOSING ${tag}` };
  const prompt = user.replace(/^[\s\S]*Now: /, '');
  const hold = holds.get(prompt);
  return hold ? { content: `answer(${prompt}) first half, second half`, chunks: 4, holdAfter: 2, hold } : { content: `answer(${prompt})`, chunks: 3 };
}

const stitched = (tag: string, n: number) =>
  [`OPENING ${tag}`, ...Array.from({ length: n }, (_, i) => `### Part ${i}\n\nanswer(${tag} part ${i})`), `CLOSING ${tag}`].join('\n\n');

let vh: Awaited<ReturnType<typeof createVhost>>;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let ollama: ScriptedOllama;
let cluster: ClusterProcess;

before(async () => {
  vh = await createVhost('stitched');
  db = await freshDatabase();
  ollama = await startScriptedOllama(script);
  cluster = await startCluster({ AMQP_URL: vh.url, DATABASE_URL: db.url, OLLAMA_HOST: ollama.url });
});

after(async () => {
  await cluster?.stop();
  await ollama?.close();
  await db?.drop();
  await vh?.drop();
});

const ask = (content: string, stream = true) =>
  fetch(`${cluster.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'aiproc', stream, messages: [{ role: 'user', content }] }) });
const job = async (id: string) => (await (await fetch(`${cluster.url}/v1/jobs/${id}`)).json()) as { status: string; answer: string | null };

describe('npm run cluster: stitched answers', () => {
  test('part 1 streams while it is written, later parts follow in plan order, the client gets exactly the stored answer', async () => {
    let open!: () => void;
    holds.set('Tlive part 0', new Promise<void>((r) => (open = r)));
    const res = await ask('job Tlive parts=3');
    const id = res.headers.get('x-request-id')!;
    const s = readCompletionStream(res);
    await s.until((x) => x.content.includes('answer(Tlive part 0)'), 'the first half of part 1');
    await s.until((x) => /Part 2 done/.test(x.reasoning) && /Part 3 done/.test(x.reasoning), 'parts 2 and 3 to finish');
    assert.doesNotMatch(s.state.reasoning, /Part 1 done/, 'part 1 is still being written');
    assert.ok(!s.state.content.includes('second half'));
    assert.ok(!s.state.content.includes('Tlive part 1'), 'part 2 waits for part 1');
    open();
    const end = await s.done;
    const j = await job(id);
    assert.equal(j.status, 'completed');
    assert.equal(end.content, j.answer);
    assert.equal(j.answer, `OPENING Tlive\n\n### Part 0\n\nanswer(Tlive part 0) first half, second half\n\n### Part 1\n\nanswer(Tlive part 1)\n\n### Part 2\n\nanswer(Tlive part 2)\n\nCLOSING Tlive`);
  });

  test('a dependent part gets its dependency\'s answer across processes', async () => {
    const res = await ask('job Tdep parts=2 dependent', false);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(body.choices[0]!.message.content, stitched('Tdep', 2));
    const second = ollama.received.find((r) => lastUser(r).endsWith('Now: Tdep part 1'))!;
    assert.match(lastUser(second), /### Part 0\nanswer\(Tdep part 0\)/);
  });

  test('50 concurrent stitched jobs: every answer whole and in order, one opening and one closing each', async () => {
    const tags = Array.from({ length: 50 }, (_, i) => `Tmany${i}`);
    const results = await Promise.all(
      tags.map(async (t) => {
        const res = await ask(`job ${t} parts=3`);
        const id = res.headers.get('x-request-id')!;
        return { id, content: (await readCompletionStream(res).done).content };
      }),
    );
    for (const [i, r] of results.entries()) {
      assert.equal(r.content, stitched(tags[i]!, 3));
      assert.equal((await job(r.id)).answer, r.content);
    }
    const joins = (t: string) => ollama.received.filter((r) => roleOf(r) === 'merger' && allText(r).includes(`job ${t} parts`)).length;
    await waitFor('every join call counted', () => tags.every((t) => joins(t) >= 2));
    assert.deepEqual(tags.filter((t) => joins(t) !== 2), [], 'exactly one opening and one closing per job');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CancelledError } from '../../functions/lib/errors.ts';
import { Pool } from '../../functions/lib/models/llama-pool.ts';

describe('the sequence pool', () => {
  test('lends each item to one caller at a time; the rest wait in order', async () => {
    const pool = new Pool(['a', 'b']);
    const first = await pool.acquire();
    const second = await pool.acquire();
    assert.deepEqual([first, second].sort(), ['a', 'b']);
    const order: string[] = [];
    const third = pool.acquire().then((x) => (order.push('third'), x));
    const fourth = pool.acquire().then((x) => (order.push('fourth'), x));
    assert.equal(pool.waiting, 2);
    pool.release(first);
    assert.equal(await third, first);
    pool.release(second);
    assert.equal(await fourth, second);
    assert.deepEqual(order, ['third', 'fourth']);
    assert.equal(pool.busy, 2);
  });

  test('a waiter whose signal aborts leaves the queue with CancelledError and takes nothing', async () => {
    const pool = new Pool([1]);
    const held = await pool.acquire();
    const ac = new AbortController();
    const cancelled = pool.acquire(ac.signal);
    const next = pool.acquire();
    ac.abort();
    await assert.rejects(cancelled, CancelledError);
    assert.equal(pool.waiting, 1);
    pool.release(held);
    assert.equal(await next, 1);
  });

  test('an already aborted signal is refused at once', async () => {
    const pool = new Pool([1]);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(pool.acquire(ac.signal), CancelledError);
    assert.equal(pool.busy, 0);
  });

  test('drain rejects every waiter', async () => {
    const pool = new Pool([1]);
    await pool.acquire();
    const waiting = pool.acquire();
    pool.drain(new Error('closed'));
    await assert.rejects(waiting, /closed/);
    assert.equal(pool.waiting, 0);
  });
});

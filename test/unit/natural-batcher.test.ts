import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { NaturalBatcher } from '../../src/write/natural-batcher.js';

describe('NaturalBatcher', () => {
  it('runs a lone submission at once and gathers what comes meanwhile into the next run, per key', async () => {
    const runs: Array<[string, number[]]> = [];
    const b = new NaturalBatcher<string, number, number>({
      async run(key, batch) {
        runs.push([key, [...batch]]);
        await sleep(20);
        return batch.map((x) => x * 10);
      },
      take: (waiting) => Math.min(waiting.length, 3),
    });
    const results = await Promise.all([b.submit('a', 1), b.submit('a', 2), b.submit('b', 7), b.submit('a', 3), b.submit('a', 4), b.submit('a', 5)]);
    expect(results).toEqual([10, 20, 70, 30, 40, 50]);
    expect(runs).toEqual([
      ['a', [1]],
      ['b', [7]],
      ['a', [2, 3, 4]],
      ['a', [5]],
    ]);
  });

  it('rejects every submission of a failed run with the error failure() gives', async () => {
    const b = new NaturalBatcher<string, number, number>({
      async run(_key, batch) {
        await sleep(5);
        if (batch.includes(13)) throw new Error('unlucky');
        return [...batch];
      },
      take: (w) => w.length,
      failure: (err, size) => new Error(`${(err as Error).message} in a run of ${size}`),
    });
    const first = b.submit('k', 1);
    const settled = await Promise.allSettled([b.submit('k', 12), b.submit('k', 13)]);
    expect(await first).toBe(1);
    expect(settled.map((s) => (s.status === 'rejected' ? (s.reason as Error).message : s.value))).toEqual(['unlucky in a run of 2', 'unlucky in a run of 2']);
  });

  it('with stallMs, a hung run no longer holds the next batch back; it settles its own batch when it ends', async () => {
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const b = new NaturalBatcher<string, string, string>({
      stallMs: 30,
      async run(_key, batch) {
        if (batch.includes('stuck')) await hung;
        order.push(batch.join('+'));
        return batch.map((x) => `${x}!`);
      },
      take: (w) => w.length,
    });
    const stuck = b.submit('site', 'stuck');
    const next = b.submit('site', 'next');
    expect(await next).toBe('next!');
    release();
    expect(await stuck).toBe('stuck!');
    expect(order).toEqual(['next', 'stuck']);
  });
});

import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { warnThrottled } from '../../src/logging/throttled-warn.js';

describe('warnThrottled', () => {
  it('writes one line per kind per interval, then one with how many were held back', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ base: undefined }, new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) }));
    const refused = { message: 'connect ECONNREFUSED 127.0.0.1:56379' };
    for (let i = 0; i < 50; i++) warnThrottled(logger, { err: refused, queue: `apply-TP1-${i % 8}` }, 'worker.error', 40);
    warnThrottled(logger, { err: { message: 'another error' } }, 'worker.error', 40);
    await new Promise((r) => setTimeout(r, 60));
    warnThrottled(logger, { err: refused, queue: 'apply-TP2-0' }, 'worker.error', 40);
    await new Promise((r) => setTimeout(r, 10));
    expect(lines.map((l) => [l['msg'], (l['err'] as { message: string }).message, l['suppressed'] ?? 0])).toEqual([
      ['worker.error', 'connect ECONNREFUSED 127.0.0.1:56379', 0],
      ['worker.error', 'another error', 0],
      ['worker.error', 'connect ECONNREFUSED 127.0.0.1:56379', 49],
    ]);
  });
});

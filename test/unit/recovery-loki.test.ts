import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLoki } from '../../src/recovery/log-source.js';

/** A tiny server answering Loki's query_range from a list of (ns, line, labels). */
let server: Server;
let url: string;
const seen: URLSearchParams[] = [];
const ns = (iso: string) => (BigInt(new Date(iso).getTime()) * 1_000_000n).toString();
const op = (time: string, opId: string) => JSON.stringify({ level: 30, time, v: 1, opId, epoch: 1, entity: 'branch', table: 'branch', key: opId, action: 'create', seq: 1, outcome: 'applied', row: null, values: {}, acceptedAt: time });
const STORE: Array<{ ns: string; line: string; labels: Record<string, string> }> = [
  { ns: ns('2025-11-18T16:30:00Z'), line: op('2025-11-18T16:30:00.000Z', 'A'), labels: { app: 'ess', stream: 'op-log', region: 'TP1', site: 'db1', msg: 'write.applied' } },
  { ns: ns('2025-11-18T18:30:00Z'), line: op('2025-11-18T18:30:00.000Z', 'B'), labels: { app: 'ess', stream: 'op-log', region: 'TP1', site: 'db1', msg: 'write.applied' } },
  { ns: ns('2025-11-18T18:30:00Z'), line: op('2025-11-18T18:30:00.000Z', 'B'), labels: { app: 'ess', stream: 'op-log', region: 'TP1', site: 'db4', msg: 'replica.applied' } },
  { ns: ns('2025-11-18T19:00:00Z'), line: op('2025-11-18T19:00:00.000Z', 'C'), labels: { app: 'ess', stream: 'op-log', region: 'TP1', site: 'db1', msg: 'write.applied' } },
  { ns: ns('2025-11-18T20:00:00Z'), line: 'garbage', labels: { app: 'ess', stream: 'op-log', region: 'TP1', site: 'db1', msg: 'write.applied' } },
];

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname !== '/loki/api/v1/query_range') return res.writeHead(404).end('not found');
    if (u.searchParams.get('query')?.includes('broken')) return res.writeHead(400).end('parse error at line 1, col 1: syntax error');
    seen.push(u.searchParams);
    const start = BigInt(u.searchParams.get('start')!);
    const end = BigInt(u.searchParams.get('end')!);
    const limit = Number(u.searchParams.get('limit'));
    const hits = STORE.filter((s) => BigInt(s.ns) >= start && BigInt(s.ns) < end).slice(0, limit);
    const streams = new Map<string, { stream: Record<string, string>; values: Array<[string, string]> }>();
    for (const h of hits) {
      const k = JSON.stringify(h.labels);
      if (!streams.has(k)) streams.set(k, { stream: h.labels, values: [] });
      streams.get(k)!.values.push([h.ns, h.line]);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'streams', result: [...streams.values()] } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('readLoki (query_range)', () => {
  it('pages forward from since, fills fields from stream labels, keeps unreadable lines, skips out-of-range ones', async () => {
    seen.length = 0;
    const res = await readLoki({ url, regions: ['TP1'], range: { since: new Date('2025-11-18T17:00:00Z'), until: new Date('2025-11-19T00:00:00Z') }, pageSize: 2 });
    expect(res.entries.filter((e) => !e.problem).map((e) => [e.record!['opId'], e.record!['site'], e.record!['msg']])).toEqual([
      ['B', 'db1', 'write.applied'],
      ['B', 'db4', 'replica.applied'],
      ['C', 'db1', 'write.applied'],
    ]);
    expect(res.entries.filter((e) => e.problem).map((e) => e.origin)).toEqual([`loki:${ns('2025-11-18T20:00:00Z')}`]);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen[0]!.get('query')).toBe('{app="ess",stream="op-log",region=~"TP1"}');
    expect(seen[0]!.get('direction')).toBe('forward');
    expect(seen[0]!.get('start')).toBe(ns('2025-11-18T17:00:00Z'));
  });

  it("says what Loki answered when it refuses the query", async () => {
    await expect(readLoki({ url, regions: ['TP1'], range: { since: new Date(0) }, query: '{broken' })).rejects.toThrow(/Loki answered 400 to query_range: parse error/);
  });
});

import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { OpLog } from '../../src/logging/op-log.js';

/** A stand-in for Loki's push API: records every request (Loki cannot run on this machine). */
async function fakeLoki() {
  const pushes: Array<{ path: string; auth: string | undefined; body: any }> = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let buf = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') buf = gunzipSync(buf);
    pushes.push({ path: req.url ?? '', auth: req.headers['authorization'], body: JSON.parse(buf.toString('utf8')) });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pushes, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let dir: string | undefined;
afterEach(async () => dir && rm(dir, { recursive: true, force: true }));

describe('op log', () => {
  it('writes a write.applied line to the region/local-date file and pushes it to Loki with its labels', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ess-oplog-'));
    const loki = await fakeLoki();
    const log = new OpLog({ dir, timeZone: 'Asia/Ho_Chi_Minh', loki: { url: loki.url, user: 'u', password: 'p' } });
    const fields = {
      opId: 'TP2-f833bcf7-b9cd-4e48-9dfd-61e9b96702e9',
      region: 'TP2',
      site: 'db2',
      epoch: 1,
      entity: 'branch',
      table: 'branch',
      key: 'CN9',
      action: 'create',
      seq: 1,
      outcome: 'applied',
      row: { id: 'CN9', name: 'Chi nhánh 9', region: 'TP2' },
      values: { id: 'CN9', name: 'Chi nhánh 9', region: 'TP2' },
      acceptedAt: '2026-11-30T15:04:13.520Z',
    } as const;
    log.write('write.applied', fields);
    await log.close();
    for (let i = 0; i < 50 && loki.pushes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await loki.close();
    const date = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh' }).format(new Date());
    const lines = (await readFile(path.join(dir, `TP2-${date}.log`), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    const { time, ...rest } = lines[0];
    expect(Number.isNaN(Date.parse(time))).toBe(false);
    expect(rest).toEqual({ level: 30, v: 1, ...fields, msg: 'write.applied' });
    expect(loki.pushes).toHaveLength(1);
    const push = loki.pushes[0]!;
    expect(push.path).toBe('/loki/api/v1/push');
    expect(push.auth).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(push.body.streams).toHaveLength(1);
    expect(push.body.streams[0].stream).toMatchObject({ app: 'ess', stream: 'op-log', region: 'TP2', site: 'db2', msg: 'write.applied' });
    const [[ts, line]] = push.body.streams[0].values;
    expect(ts).toMatch(/^\d{19}$/);
    expect(JSON.parse(line)).toMatchObject({ opId: fields.opId, msg: 'write.applied' });
  });
});

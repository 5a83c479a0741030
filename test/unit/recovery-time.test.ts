import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLogFiles } from '../../src/recovery/log-source.js';
import { candidateDates, InstantParseError, parseInstant } from '../../src/recovery/time-range.js';

const TZ = 'Asia/Ho_Chi_Minh';

describe('parseInstant', () => {
  it('reads a time without an offset in the utility time zone (UTC+7)', () => {
    expect(parseInstant('2025-11-18 00:00:00', TZ).toISOString()).toBe('2025-11-17T17:00:00.000Z');
    expect(parseInstant('2025-11-26 13:00:00', TZ).toISOString()).toBe('2025-11-26T06:00:00.000Z');
    expect(parseInstant('2025-11-26T13:00', TZ).toISOString()).toBe('2025-11-26T06:00:00.000Z');
    expect(parseInstant('2025-11-26', TZ).toISOString()).toBe('2025-11-25T17:00:00.000Z');
    expect(parseInstant('2025-11-26 13:00:00.25', TZ).toISOString()).toBe('2025-11-26T06:00:00.250Z');
  });

  it('takes an instant with Z or an offset as given', () => {
    expect(parseInstant('2025-11-26T13:00:00Z', TZ).toISOString()).toBe('2025-11-26T13:00:00.000Z');
    expect(parseInstant('2025-11-26T13:00:00+02:00', TZ).toISOString()).toBe('2025-11-26T11:00:00.000Z');
  });

  it('follows a daylight-saving zone', () => {
    // Europe/London: GMT in January, BST (UTC+1) in July.
    expect(parseInstant('2025-01-10 12:00', 'Europe/London').toISOString()).toBe('2025-01-10T12:00:00.000Z');
    expect(parseInstant('2025-07-10 12:00', 'Europe/London').toISOString()).toBe('2025-07-10T11:00:00.000Z');
  });

  it('refuses what is not a real date/time, naming it', () => {
    expect(() => parseInstant('2025-02-30 10:00', TZ)).toThrow(InstantParseError);
    expect(() => parseInstant('yesterday', TZ)).toThrow(/cannot read "yesterday"/);
    expect(() => parseInstant('2025-11-18 24:00', TZ)).toThrow(/not a real/);
  });

  it('widens the file dates by one day each side', () => {
    const since = parseInstant('2025-11-19 00:00', TZ);
    expect(candidateDates({ since, until: parseInstant('2025-11-20 12:00', TZ) }, TZ)).toEqual({ first: '2025-11-18', last: '2025-11-21' });
  });
});

describe('reading daily files by instant, not by file name', () => {
  let dir: string;
  const line = (time: string, key: string) =>
    JSON.stringify({ timestamp: time, level: 'insert', message: `thêm chi nhánh ${key}`, city: 'TP1', maCN: key, tenCN: key, thanhpho: 'TP1' });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ess-rec-time-'));
    // Files are named by the local (UTC+7) date of their lines.
    await writeFile(
      path.join(dir, 'TP1-2025-11-18.log'),
      [line('2025-11-18T10:00:00.000Z', 'A'), line('2025-11-18T16:59:59.999Z', 'B')].join('\n') + '\n',
    );
    // 18:30Z on the 18th is 01:30 on the 19th in Vietnam: UTC date 18, local date 19.
    await writeFile(
      path.join(dir, 'TP1-2025-11-19.log'),
      [line('2025-11-18T17:00:00.000Z', 'C'), line('2025-11-18T18:30:00.000Z', 'D'), line('2025-11-19T16:59:00.000Z', 'E'), 'not json at all'].join('\n') + '\n',
    );
    await writeFile(path.join(dir, 'TP1-2025-11-20.log'), line('2025-11-19T17:00:00.000Z', 'F') + '\n');
    await writeFile(path.join(dir, 'TP2-2025-11-19.log'), line('2025-11-18T18:30:00.000Z', 'OTHER') + '\n');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const keys = (entries: Array<{ record: Record<string, unknown> | null }>) => entries.filter((e) => e.record).map((e) => e.record!['maCN']);

  it('since local midnight of the 19th: keeps the lines whose UTC date is the 18th but local date the 19th', async () => {
    const res = await readLogFiles({ dir, regions: ['TP1'], range: { since: parseInstant('2025-11-19 00:00:00', TZ) }, timeZone: TZ, now: new Date('2025-11-21T00:00:00Z') });
    expect(keys(res.entries)).toEqual(['C', 'D', 'E', 'F']);
    // A and B (local 18th) are out of range; the unreadable line is reported, not dropped.
    expect(res.outOfRange).toBe(2);
    expect(res.entries.filter((e) => e.problem).map((e) => e.origin)).toEqual(['TP1-2025-11-19.log:4']);
    expect(res.sources.map((s) => path.basename(s))).toEqual(['TP1-2025-11-18.log', 'TP1-2025-11-19.log', 'TP1-2025-11-20.log']);
  });

  it('a UTC string comparison would have been wrong: since "2025-11-19" read as UTC drops C and D', async () => {
    const res = await readLogFiles({ dir, regions: ['TP1'], range: { since: new Date('2025-11-19T00:00:00Z') }, timeZone: TZ, now: new Date('2025-11-21T00:00:00Z') });
    expect(keys(res.entries)).toEqual(['E', 'F']);
  });

  it('until is exclusive and in the time zone too', async () => {
    const res = await readLogFiles({
      dir,
      regions: ['TP1'],
      range: { since: parseInstant('2025-11-18 23:59:59.999', TZ), until: parseInstant('2025-11-19 01:30:00', TZ) },
      timeZone: TZ,
    });
    expect(keys(res.entries)).toEqual(['B', 'C']);
  });
});

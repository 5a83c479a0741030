/**
 * Reading log entries for a recovery: daily files (`TP1-2025-11-26.log`, this system's pino lines
 * and the original project's winston lines alike) and Grafana Loki's `query_range` API. Lines are
 * kept by their own instant, never by the name of the file they sit in.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Region } from '../domain/fragmentation.js';
import { candidateDates, inRange, type TimeRange } from './time-range.js';

/** One log line as read: where it was, its instant and its JSON object when it parses. */
export interface LogEntry {
  /** Where the line was: `TP2-2025-11-27.log:1`, or `loki:<ns timestamp>`. */
  readonly origin: string;
  /** The line's instant (`time` of pino lines, `timestamp` of winston lines); null when it has none. */
  readonly time: Date | null;
  /** The line's text (cut to 2,000 characters). */
  readonly raw: string;
  /** The JSON object of the line; null when the line is not a JSON object. */
  readonly record: Record<string, unknown> | null;
  /** Why the line cannot be read (not JSON, no instant); undefined when it can. */
  readonly problem?: string;
  /** The region the source says the line belongs to (file name prefix or Loki label). */
  readonly sourceRegion?: Region | undefined;
}

/** What a reader found: entries in the range (plus every unreadable line), and what it read. */
export interface LogReadResult {
  /** In log order: by instant, then in reading order; unreadable lines last. */
  readonly entries: LogEntry[];
  /** Files (or Loki queries) read. */
  readonly sources: string[];
  /** Readable lines outside the range (skipped). */
  readonly outOfRange: number;
}

const FILE_NAME = /^(TP[123])-(\d{4}-\d{2}-\d{2})\.log$/;

/** Parses one line; never throws. */
export function parseLine(raw: string, origin: string, sourceRegion?: Region, extra?: Record<string, unknown>): LogEntry {
  const cut = raw.length > 2000 ? `${raw.slice(0, 2000)}…` : raw;
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch (err) {
    return { origin, time: null, raw: cut, record: null, problem: `not JSON: ${(err as Error).message}`, sourceRegion };
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { origin, time: null, raw: cut, record: null, problem: 'not a JSON object', sourceRegion };
  }
  const obj = { ...extra, ...(record as Record<string, unknown>) };
  const t = obj['time'] ?? obj['timestamp'];
  const time = typeof t === 'string' || typeof t === 'number' ? new Date(t) : null;
  if (!time || Number.isNaN(time.getTime())) {
    return { origin, time: null, raw: cut, record: obj, problem: 'no readable instant ("time" or "timestamp")', sourceRegion };
  }
  return { origin, time, raw: cut, record: obj, sourceRegion };
}

/** Sorts entries into log order: by instant (stable), unreadable ones last. */
export function logOrder(entries: LogEntry[]): LogEntry[] {
  const timed = entries.filter((e) => e.time && !e.problem);
  const rest = entries.filter((e) => !e.time || e.problem);
  return [...timed.map((e, i) => ({ e, i })).sort((a, b) => a.e.time!.getTime() - b.e.time!.getTime() || a.i - b.i).map((x) => x.e), ...rest];
}

/** Options of {@link readLogFiles}. */
export interface FileReadOptions {
  readonly dir: string;
  readonly regions: readonly Region[];
  readonly range: TimeRange;
  readonly timeZone: string;
  readonly now?: Date;
}

/**
 * Reads the daily files of the regions whose local date can hold lines of the range (one day of
 * margin each side), keeping lines whose instant is in the range and every unreadable line.
 * @throws Error when the folder cannot be listed (names it)
 */
export async function readLogFiles(options: FileReadOptions): Promise<LogReadResult> {
  let names: string[];
  try {
    names = await readdir(options.dir);
  } catch (err) {
    throw new Error(`cannot read the log folder ${options.dir}: ${(err as Error).message}`, { cause: err });
  }
  const { first, last } = candidateDates(options.range, options.timeZone, options.now);
  const files = names
    .map((n) => ({ n, m: FILE_NAME.exec(n) }))
    .filter(({ m }) => m && options.regions.includes(m[1] as Region) && m[2]! >= first && m[2]! <= last)
    .sort((a, b) => a.m![2]!.localeCompare(b.m![2]!) || a.n.localeCompare(b.n));
  const entries: LogEntry[] = [];
  let outOfRange = 0;
  for (const { n, m } of files) {
    const lines = createInterface({ input: createReadStream(path.join(options.dir, n), { encoding: 'utf8' }), crlfDelay: Infinity });
    let no = 0;
    for await (const line of lines) {
      no++;
      if (line.trim() === '') continue;
      const e = parseLine(line, `${n}:${no}`, m![1] as Region);
      if (!e.problem && e.time && !inRange(e.time, options.range)) outOfRange++;
      else entries.push(e);
    }
  }
  return { entries: logOrder(entries), sources: files.map((f) => path.join(options.dir, f.n)), outOfRange };
}

/** Options of {@link readLoki}. */
export interface LokiReadOptions {
  /** Loki's base URL (`http://loki:3100`). */
  readonly url: string;
  readonly regions: readonly Region[];
  readonly range: TimeRange;
  /** LogQL stream selector. @defaultValue `{app="ess",stream="op-log"}` narrowed to the regions */
  readonly query?: string;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  /** Entries per request (Loki's `limit`). @defaultValue 5000 */
  readonly pageSize?: number;
  /** One request's timeout, ms. @defaultValue 30000 */
  readonly timeoutMs?: number;
  readonly now?: Date;
}

interface LokiStreams {
  status: string;
  data: { resultType: string; result: Array<{ stream: Record<string, string>; values: Array<[string, string]> }> };
}

/**
 * Reads entries from Loki's `GET /loki/api/v1/query_range` (direction forward), page by page until
 * a page comes back short. Stream labels fill fields a line lacks (`region`, `site`, `msg`).
 * @throws Error on an HTTP error or an answer that is not a `streams` result (with Loki's message)
 */
export async function readLoki(options: LokiReadOptions): Promise<LogReadResult> {
  const limit = options.pageSize ?? 5000;
  const query = options.query ?? `{app="ess",stream="op-log",region=~"${options.regions.join('|')}"}`;
  const endNs = BigInt((options.range.until ?? options.now ?? new Date()).getTime()) * 1_000_000n;
  let startNs = BigInt(options.range.since.getTime()) * 1_000_000n;
  const headers: Record<string, string> = {};
  if (options.user) headers['authorization'] = `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`;
  const seen = new Set<string>();
  const entries: LogEntry[] = [];
  let requests = 0;
  for (;;) {
    const u = new URL('/loki/api/v1/query_range', options.url);
    u.searchParams.set('query', query);
    u.searchParams.set('start', startNs.toString());
    u.searchParams.set('end', endNs.toString());
    u.searchParams.set('limit', String(limit));
    u.searchParams.set('direction', 'forward');
    requests++;
    const res = await fetch(u, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`Loki answered ${res.status} to query_range: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as LokiStreams;
    if (body.status !== 'success' || body.data?.resultType !== 'streams') throw new Error(`Loki's answer is not a streams result: ${text.slice(0, 300)}`);
    const page: Array<{ ns: bigint; line: string; labels: Record<string, string> }> = [];
    for (const s of body.data.result) for (const [ns, line] of s.values) page.push({ ns: BigInt(ns), line, labels: s.stream });
    page.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
    let fresh = 0;
    for (const p of page) {
      const id = `${p.ns}|${JSON.stringify(p.labels)}|${p.line}`;
      if (seen.has(id)) continue;
      seen.add(id);
      fresh++;
      const region = ['TP1', 'TP2', 'TP3'].includes(p.labels['region'] ?? '') ? (p.labels['region'] as Region) : undefined;
      const extra: Record<string, unknown> = {};
      for (const k of ['region', 'site', 'msg', 'city']) if (p.labels[k] !== undefined) extra[k] = p.labels[k];
      const e = parseLine(p.line, `loki:${p.ns}`, region, extra);
      if (!e.problem && e.time && !inRange(e.time, options.range)) continue;
      entries.push(e);
    }
    if (page.length < limit || page.length === 0) break;
    const lastNs = page[page.length - 1]!.ns;
    // `start` is inclusive: lines at the last instant come again and are skipped as seen. A full
    // page of nothing new means more than `limit` lines share that instant: step past it (those
    // beyond the page size are lost, as with Loki's own logcli; raise pageSize if that happens).
    startNs = fresh === 0 ? lastNs + 1n : lastNs;
    if (startNs >= endNs) break;
  }
  return { entries: logOrder(entries), sources: [`${options.url} ${query} (${requests} request(s))`], outOfRange: 0 };
}

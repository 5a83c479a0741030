import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { pinoLoki } from 'pino-loki';
import { REGIONS, type Region } from '../domain/fragmentation.js';
import { localDate } from './local-date.js';
import { OP_LOG_VERSION, type OpLogLine } from './op-log-line.js';

/** Options of the op log. */
export interface OpLogOptions {
  /** Folder of the daily files. */
  readonly dir: string;
  /** Time zone whose calendar date names the files (default Asia/Ho_Chi_Minh). */
  readonly timeZone: string;
  /** Grafana Loki push target; lines go to files and to Loki when set. */
  readonly loki?: { url: string; user?: string; password?: string } | undefined;
}

/** Fields the caller gives; `level`, `time`, `v` are added. */
export type OpLogFields = Omit<OpLogLine, 'level' | 'time' | 'v' | 'msg'>;

/**
 * Routes pino lines to daily files named by region and local date (`TP1-2025-11-26.log`), as the
 * original project did. Writes are synchronous (`write(2)` before the call returns), so a line is
 * in the file before the job that wrote it completes, and survives a kill of the process.
 */
class DailyFileStream {
  private current: { date: string; boom: ReturnType<typeof pino.destination> } | undefined;
  /** Lines gathered while corked, all of one date. */
  private pending: { date: string; lines: string[] } | undefined;
  private corked = false;
  constructor(
    private readonly dir: string,
    private readonly region: Region,
    private readonly timeZone: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  write(line: string): void {
    const at = line.indexOf('"time":"');
    const instant = at >= 0 ? new Date(line.slice(at + 8, at + 32)) : new Date();
    const date = localDate(Number.isNaN(instant.getTime()) ? new Date() : instant, this.timeZone);
    if (!this.corked) return this.writeNow(date, line);
    if (this.pending && this.pending.date !== date) this.flush();
    this.pending ??= { date, lines: [] };
    this.pending.lines.push(line);
  }

  /** Gathers lines until {@link uncork}. */
  cork(): void {
    this.corked = true;
  }

  /** Writes the gathered lines, one `write(2)` per date. */
  uncork(): void {
    this.corked = false;
    this.flush();
  }

  private flush(): void {
    const p = this.pending;
    this.pending = undefined;
    if (p && p.lines.length > 0) this.writeNow(p.date, p.lines.join(''));
  }

  private writeNow(date: string, text: string): void {
    if (this.current?.date !== date) {
      this.current?.boom.end();
      const file = path.join(this.dir, `${this.region}-${date}.log`);
      this.current = { date, boom: pino.destination({ dest: file, sync: true, append: true, mkdir: true }) };
    }
    this.current.boom.write(text);
  }

  close(): void {
    this.flush();
    this.current?.boom.end();
    this.current = undefined;
  }
}

/**
 * The op log: one pino logger per region writing `write.applied` / `replica.applied` lines (the
 * format recovery reads, `docs/log-format.md`) to daily files and, when configured, to Loki.
 */
export class OpLog {
  private readonly loggers = new Map<Region, pino.Logger>();
  private readonly files: DailyFileStream[] = [];
  private readonly loki: ReturnType<typeof pinoLoki> | undefined;

  constructor(private readonly options: OpLogOptions) {
    if (options.loki) {
      // In this thread (not a worker-thread transport), so close() can flush it and return.
      this.loki = pinoLoki({
        host: options.loki.url,
        basicAuth: options.loki.user ? { username: options.loki.user, password: options.loki.password ?? '' } : undefined,
        labels: { app: 'ess', stream: 'op-log' },
        propsToLabels: ['region', 'site', 'msg'],
        batching: { interval: 1 },
        // The line's own `time` is ISO text (the log contract); Loki gets the push instant in ns.
        replaceTimestamp: true,
      });
    }
  }

  private logger(region: Region): pino.Logger {
    let logger = this.loggers.get(region);
    if (!logger) {
      const file = new DailyFileStream(this.options.dir, region, this.options.timeZone);
      this.files.push(file);
      const streams: pino.StreamEntry[] = [{ stream: file }];
      if (this.loki) streams.push({ stream: this.loki });
      logger = pino(
        { base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' },
        streams.length === 1 ? file : pino.multistream(streams),
      );
      this.loggers.set(region, logger);
    }
    return logger;
  }

  /** Writes one line; the line is in its file when this returns. */
  write(event: OpLogLine['msg'], fields: OpLogFields): void {
    this.logger(fields.region).info({ v: OP_LOG_VERSION, ...fields }, event);
  }

  /**
   * Runs `fn`, whose {@link write}s are gathered and written with one `write(2)` per file when it
   * returns (a replicate batch's lines): every line is in its file when this returns.
   */
  writeBatch(fn: () => void): void {
    for (const r of REGIONS) this.logger(r);
    for (const f of this.files) f.cork();
    try {
      fn();
    } finally {
      for (const f of this.files) f.uncork();
    }
  }

  /** Closes the files and flushes Loki. */
  async close(): Promise<void> {
    for (const f of this.files) f.close();
    const loki = this.loki;
    if (loki) {
      await new Promise<void>((resolve) => {
        loki.once('close', () => resolve());
        loki.end();
        setTimeout(resolve, 5000).unref();
      });
    }
  }
}

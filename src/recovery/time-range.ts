/**
 * Instants of a recovery: `since`/`until` read in the utility's time zone when they carry no
 * offset, and the daily log files (named by local date) that can hold lines of a range.
 */
import { localDate } from '../logging/local-date.js';

/** A half-open range of instants: `since` inclusive, `until` exclusive (open when undefined). */
export interface TimeRange {
  readonly since: Date;
  readonly until?: Date | undefined;
}

/** Thrown for a date/time that cannot be read; `code` is stable. */
export class InstantParseError extends Error {
  readonly code = 'bad_instant';
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** Offset of a time zone at an instant, ms (Asia/Ho_Chi_Minh: +25,200,000). */
export function zoneOffsetMs(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const n = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const asUtc = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/**
 * Reads an instant: ISO 8601 with `Z` or an offset is taken as is; `YYYY-MM-DD`,
 * `YYYY-MM-DD HH:mm[:ss[.sss]]` or `YYYY-MM-DDTHH:mm[:ss]` without an offset is a wall-clock time
 * in `timeZone` (the original tool's `2025-11-26 13:00:00` meant Vietnam's time).
 * @throws InstantParseError naming the text and the accepted forms
 */
export function parseInstant(text: string, timeZone: string): Date {
  const s = text.trim();
  if (WITH_OFFSET.test(s)) {
    const d = new Date(s.replace(' ', 'T'));
    if (!Number.isNaN(d.getTime())) return d;
  }
  const m = LOCAL.exec(s);
  if (!m) {
    throw new InstantParseError(`cannot read "${text}" as a date/time: expected YYYY-MM-DD [HH:mm[:ss]] (in ${timeZone}) or ISO 8601 with an offset`);
  }
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map((v) => (v === undefined ? 0 : Number(v)));
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'));
  const wall = Date.UTC(y!, mo! - 1, d!, h!, mi!, se!, ms!);
  const check = new Date(wall);
  if (check.getUTCMonth() !== mo! - 1 || check.getUTCDate() !== d! || h! > 23 || mi! > 59 || se! > 59) {
    throw new InstantParseError(`"${text}" is not a real date/time`);
  }
  // Two passes settle the offset across a daylight-saving change.
  let utc = wall - zoneOffsetMs(new Date(wall), timeZone);
  utc = wall - zoneOffsetMs(new Date(utc), timeZone);
  return new Date(utc);
}

/** True when `t` is inside the range. */
export function inRange(t: Date, range: TimeRange): boolean {
  return t.getTime() >= range.since.getTime() && (range.until === undefined || t.getTime() < range.until.getTime());
}

/** `YYYY-MM-DD` plus `days`. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * The local dates whose daily files may hold lines of the range: from the local date of `since`
 * to that of `until` (or `now`), one day wider on each side, because a writer in another zone or
 * a line written just after midnight may sit in the neighbouring file. Lines are then kept by
 * their own instant, never by the file's name.
 */
export function candidateDates(range: TimeRange, timeZone: string, now: Date = new Date()): { first: string; last: string } {
  const first = addDays(localDate(range.since, timeZone), -1);
  const end = range.until ?? now;
  const last = addDays(localDate(end.getTime() < range.since.getTime() ? range.since : end, timeZone), 1);
  return { first, last };
}

/**
 * The calendar date (`YYYY-MM-DD`) of an instant in a time zone: the date that names a daily log
 * file (`TP1-2025-11-26.log`).
 */
export function localDate(instant: Date, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant);
}

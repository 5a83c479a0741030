/**
 * CPU time per process of the run, from `/proc/<pid>/stat` (utime + stime, clock ticks; Linux
 * only): where the machine's two cores go during a phase. PostgreSQL's per-connection backends
 * are summed under their postmaster.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux x86-64). */
const CLK_TCK = 100;

function statOf(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by each named process (and, for PostgreSQL, its children). */
export function cpuSeconds(pids: Readonly<Record<string, number | undefined>>, withChildren: ReadonlySet<string>): Record<string, number> {
  const out: Record<string, number> = {};
  const wanted = new Map<number, string>();
  for (const [name, pid] of Object.entries(pids)) {
    if (!pid) continue;
    wanted.set(pid, name);
    out[name] = (statOf(pid)?.ticks ?? 0) / CLK_TCK;
  }
  if (withChildren.size > 0) {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const st = statOf(pid);
      const parent = st && wanted.get(st.ppid);
      if (st && parent && withChildren.has(parent)) out[parent] = (out[parent] ?? 0) + st.ticks / CLK_TCK;
    }
  }
  return out;
}

/**
 * The CPU seconds each process used between two {@link cpuSeconds} readings, and per 1,000 writes.
 * Exited backends drop out of a later reading, so PostgreSQL figures are a lower bound.
 */
export function cpuDelta(before: Record<string, number>, after: Record<string, number>, writes: number): Record<string, { cpuS: number; msPerWrite: number }> {
  const out: Record<string, { cpuS: number; msPerWrite: number }> = {};
  for (const [name, a] of Object.entries(after)) {
    const d = Math.max(0, a - (before[name] ?? 0));
    out[name] = { cpuS: Math.round(d * 100) / 100, msPerWrite: writes > 0 ? Math.round((d * 1e6) / writes) / 1000 : NaN };
  }
  return out;
}

/**
 * Redis commands per write from `INFO commandstats` (after `CONFIG RESETSTAT`): calls per write
 * and server CPU µs per write for each command, most costly first.
 */
export function redisCommandsPerWrite(commandstats: string, writes: number): { perWrite: number; usecPerWrite: number; commands: Record<string, { callsPerWrite: number; usecPerWrite: number }> } {
  const commands: Record<string, { callsPerWrite: number; usecPerWrite: number }> = {};
  let calls = 0;
  let usec = 0;
  for (const m of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    const [c, u] = [Number(m[2]), Number(m[3])];
    if (m[1] === 'config' || m[1] === 'info') continue;
    calls += c;
    usec += u;
    commands[m[1]!] = { callsPerWrite: Math.round((c / writes) * 100) / 100, usecPerWrite: Math.round((u / writes) * 10) / 10 };
  }
  const sorted = Object.fromEntries(Object.entries(commands).sort((a, b) => b[1].usecPerWrite - a[1].usecPerWrite));
  return { perWrite: Math.round((calls / writes) * 100) / 100, usecPerWrite: Math.round((usec / writes) * 10) / 10, commands: sorted };
}

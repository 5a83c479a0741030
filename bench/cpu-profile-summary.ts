/**
 * Summarises V8 `.cpuprofile` files (from `node --cpu-prof`): self time per function and per
 * package/folder, so `npm run bench -- --profile` can say where a process spends its CPU.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time of one bucket, ms and share of the profile's samples. */
export interface CpuShare {
  readonly name: string;
  readonly ms: number;
  readonly pct: number;
}

/** A process's CPU profile in short. */
export interface CpuSummary {
  readonly file: string;
  readonly wallMs: number;
  /** Sampled time not idle, ms. */
  readonly busyMs: number;
  readonly byArea: CpuShare[];
  readonly topFunctions: CpuShare[];
}

function area(url: string, fn: string): string {
  if (!url) return fn === '(idle)' ? '(idle)' : fn === '(garbage collector)' ? '(gc)' : fn === '(program)' ? '(program: native/unattributed)' : `(${fn || 'native'})`;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const m = /\/(src|workers|queues|bench)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

/** Summarises one profile file. */
export async function summarizeCpuProfile(file: string, top = 15): Promise<CpuSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const a = area(n.callFrame.url, n.callFrame.functionName);
    total += us;
    if (a === '(idle)') idle += us;
    areas.set(a, (areas.get(a) ?? 0) + us);
    const f = `${n.callFrame.functionName || '(anonymous)'} ${a}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fns.set(f, (fns.get(f) ?? 0) + us);
  }
  const busy = total - idle;
  const list = (m: Map<string, number>) =>
    [...m]
      .filter(([k]) => k !== '(idle)' && !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: Math.round((us / Math.max(1, busy)) * 1000) / 10 }));
  return { file, wallMs: Math.round((p.endTime - p.startTime) / 1000), busyMs: Math.round(busy / 1000), byArea: list(areas), topFunctions: list(fns) };
}

/** Summarises every `.cpuprofile` in a folder. */
export async function summarizeCpuProfiles(dir: string): Promise<CpuSummary[]> {
  let files: string[] = [];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return [];
  }
  return Promise.all(files.map((f) => summarizeCpuProfile(path.join(dir, f))));
}

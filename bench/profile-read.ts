import { readFile } from 'node:fs/promises';

/** The worker profile written by `profile-hooks.ts`. */
export interface WorkerProfile {
  readonly pid: number;
  readonly cpuUsage: { user: number; system: number };
  readonly uptimeS: number;
  readonly phases: Record<string, { n: number; meanMs: number; p50Ms: number; p99Ms: number; totalMs: number }>;
}

/** Reads the profile file, or undefined (with a note) when the worker did not write it. */
export async function readProfile(file: string): Promise<WorkerProfile | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as WorkerProfile;
  } catch (err) {
    process.stderr.write(`[bench] no worker profile at ${file}: ${(err as Error).message}\n`);
    return undefined;
  }
}

import type { Redis } from 'ioredis';
import { redisKeys } from '../src/routing/keys.js';

/**
 * Keeps `<prefix>:workers:<id>` alive (TTL 5 s, refreshed every second) while this worker process
 * runs: `/healthz` and `/api/status` read it.
 * @returns a function that stops the heartbeat and removes the key
 */
export function startHeartbeat(redis: Redis, prefix: string, id: string): () => Promise<void> {
  const key = redisKeys(prefix).workerHeartbeat(id);
  const beat = () => redis.set(key, String(Date.now()), 'PX', 5000).catch(() => undefined);
  void beat();
  const timer = setInterval(beat, 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await redis.del(key).catch(() => undefined);
  };
}

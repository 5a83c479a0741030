import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../src/config/config.js';

/**
 * Opens a Redis connection for a role. The gateway fails fast (`enableOfflineQueue: false`,
 * bounded retries per request) so a Redis outage is a quick 503, never a hang; workers use
 * `maxRetriesPerRequest: null` as BullMQ requires and reconnect by themselves.
 */
export function createRedis(config: Pick<Config, 'redisUrl'>, role: 'gateway' | 'worker' | 'cli'): Redis {
  const common: RedisOptions = {
    connectionName: `ess-${role}`,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  const opts: RedisOptions =
    role === 'worker'
      ? { ...common, maxRetriesPerRequest: null, enableReadyCheck: true }
      : { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, commandTimeout: 2000 };
  return new Redis(config.redisUrl, opts);
}

/**
 * Refuses to run on a Redis that may evict keys: queued writes would be lost silently.
 * @throws Error naming the policy found
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const res = (await redis.config('GET', 'maxmemory-policy')) as string[];
  const policy = res[1];
  if (policy !== 'noeviction') {
    throw new Error(`Redis maxmemory-policy is "${policy}"; ESS needs "noeviction" (queued writes must never be evicted)`);
  }
}

/** Waits until the connection is ready, or throws after `timeoutMs`. */
export async function waitReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`Redis not ready within ${timeoutMs} ms`)), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * Natural batching (the pattern behind group commit): per key, at most one run is in flight; what
 * is submitted meanwhile waits and goes into the next run, so batches grow exactly as fast as the
 * thing being batched is slow, and a lone submission waits for nothing.
 */

interface Pending<S, R> {
  readonly submission: S;
  readonly resolve: (r: R) => void;
  readonly reject: (err: unknown) => void;
}

/** What a {@link NaturalBatcher} does with a batch. */
export interface NaturalBatcherOptions<K, S, R> {
  /** Runs one batch; resolves with one result per submission, in order. */
  run(key: K, batch: readonly S[]): Promise<R[]>;
  /** How many of the waiting submissions (at least 1) go into the next run. */
  take(waiting: readonly S[]): number;
  /** The error each submission of a failed run is rejected with. @defaultValue the run's error */
  failure?(err: unknown, batchSize: number): unknown;
  /**
   * A run still in flight after this many ms (a hung server) stops holding the next batch back:
   * the next run starts beside it, and the stalled one settles its own batch when it ends.
   * @defaultValue none: one run at a time, always
   */
  stallMs?: number;
}

/** Per-key natural batching of submissions `S` with results `R`. */
export class NaturalBatcher<K, S, R> {
  private readonly waiting = new Map<K, Array<Pending<S, R>>>();
  private readonly running = new Set<K>();

  constructor(private readonly options: NaturalBatcherOptions<K, S, R>) {}

  /** Submits one item under `key`; resolves with its result when its batch has run. */
  submit(key: K, submission: S): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const list = this.waiting.get(key) ?? [];
      list.push({ submission, resolve, reject });
      this.waiting.set(key, list);
      if (!this.running.has(key)) void this.drain(key);
    });
  }

  private async drain(key: K): Promise<void> {
    this.running.add(key);
    try {
      for (;;) {
        const list = this.waiting.get(key);
        if (!list || list.length === 0) return;
        const n = Math.max(1, this.options.take(list.map((p) => p.submission)));
        const done = this.runBatch(key, list.splice(0, n));
        const stallMs = this.options.stallMs;
        if (stallMs === undefined) {
          await done;
          continue;
        }
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, stallMs)))]);
        clearTimeout(timer);
      }
    } finally {
      this.running.delete(key);
    }
  }

  /** Runs one batch and settles its submissions; never rejects. */
  private async runBatch(key: K, batch: Array<Pending<S, R>>): Promise<void> {
    try {
      const results = await this.options.run(key, batch.map((p) => p.submission));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      const e = this.options.failure ? this.options.failure(err, batch.length) : err;
      for (const p of batch) p.reject(e);
    }
  }
}

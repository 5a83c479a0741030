/**
 * The local model (Ollama, `qwen2.5-coder:7b` by default) asked, a chunk of entries at a time, to
 * turn log entries that no rule converts into JSON change items: temperature 0, structured output
 * (`format` = the item JSON schema), a timeout per request and retries on transport failures.
 * Its answers are text to verify (`model-items.ts`), never SQL to run.
 */
import { Ollama } from 'ollama';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENTITIES } from '../domain/entities.js';
import { MODEL_ANSWER_JSON_SCHEMA, type ModelEntry } from './model-items.js';
import { ORIGINAL_TABLES } from './original-mapping.js';

/** Options of the model client. */
export interface ModelOptions {
  /** Ollama's URL. @defaultValue from config `OLLAMA_URL` */
  readonly url: string;
  /** @defaultValue `qwen2.5-coder:7b` */
  readonly model: string;
  /** Timeout of one request, ms. */
  readonly timeoutMs: number;
  /** Further attempts after a transport failure (HTTP 5xx, timeout, refused). @defaultValue 2 */
  readonly retries?: number;
  /** Pause before a retry, ms (doubling). @defaultValue 500 */
  readonly retryDelayMs?: number;
}

/** A model's raw answer to one chunk, or why there is none. */
export type ModelReply =
  | { readonly ok: true; readonly content: string; readonly attempts: number }
  | { readonly ok: false; readonly reason: string; readonly attempts: number };

function schemaText(): string {
  const tables = Object.values(ENTITIES)
    .map((e) => `- ${e.table}(${e.columns.map((c) => `${c.column} ${c.kind}${c.required ? '' : '?'}${c.mutable ? '' : ' fixed'}`).join(', ')})`)
    .join('\n');
  const orig = ORIGINAL_TABLES.map((t) => `- ${t.original}: ${Object.entries(t.fields).map(([f, c]) => `${f}→${c}`).join(', ')} (table ${ENTITIES[t.entity].table})`).join('\n');
  return `Tables (column kind; ? = optional; fixed = never updated):\n${tables}\nThe original project's names map so:\n${orig}`;
}

/** The system prompt: the schema, the item shape and the rules the verifier enforces. */
export const SYSTEM_PROMPT = `You turn log entries of an electricity utility's database into change items.
Answer with one JSON object {"items": [...]} and nothing else: no SQL, no Markdown, no prose.
Each item: {"entry": <the entry's number>, "table": <table>, "action": "insert"|"update"|"delete", "key": <the row's id>, "values": {<column>: <value>}}.
Rules: exactly one item per entry; the action is the entry's level; the key and every value are copied from the entry (its fields or its message), never invented;
an update lists only the columns that change; a delete has empty values; kinds: kwh = decimal kWh, vnd = whole dong integer, date = YYYY-MM-DD, bool = true/false.
If an entry cannot be expressed with these tables, give no item for it.
${schemaText()}`;

/** The user message for a chunk. */
export function chunkPrompt(chunk: readonly ModelEntry[]): string {
  const entries = chunk.map((e) => ({ entry: e.n, level: e.entry.level, message: e.entry.message, city: e.entry.city, fields: e.entry.fields }));
  return `Entries:\n${JSON.stringify(entries, null, 1)}`;
}

/** Ollama through the `ollama` client, with a per-request timeout. */
export class OllamaTranslator {
  private readonly client: Ollama;

  constructor(readonly options: ModelOptions) {
    const timeoutMs = options.timeoutMs;
    this.client = new Ollama({
      host: options.url,
      // Every request gets its own deadline; the client's own abort signal still works. Not
      // AbortSignal.any([AbortSignal.timeout(…)]): the composite holds its sources weakly, and a
      // collected timeout signal never fires (seen here: a 1.5 s answer taken under a 300 ms limit).
      // The timer below holds the controller until it fires; aborting a finished request is a no-op.
      fetch: (input, init) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs).unref();
        const outer = init?.signal;
        if (outer?.aborted) controller.abort(outer.reason);
        else outer?.addEventListener('abort', () => controller.abort(outer.reason), { once: true });
        return fetch(input, { ...init, signal: controller.signal });
      },
    });
  }

  /**
   * Checks that Ollama answers and has the model.
   * @returns `{ ok: false, reason }` naming the URL and what to do; never throws
   */
  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await this.client.version();
      const { models } = await this.client.list();
      const want = this.options.model.includes(':') ? this.options.model : `${this.options.model}:latest`;
      if (!models.some((m) => m.name === want || m.model === want || m.name === this.options.model)) {
        return { ok: false, reason: `model ${this.options.model} is not on Ollama at ${this.options.url} (ollama pull ${this.options.model})` };
      }
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `Ollama is not reachable at ${this.options.url}: ${describe(err, this.options.timeoutMs)}` };
    }
  }

  /** Asks for the items of one chunk, retrying transport failures. Never throws. */
  async ask(chunk: readonly ModelEntry[]): Promise<ModelReply> {
    const retries = this.options.retries ?? 2;
    let delay = this.options.retryDelayMs ?? 500;
    let last = '';
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      try {
        const res = await this.client.chat({
          model: this.options.model,
          stream: false,
          format: MODEL_ANSWER_JSON_SCHEMA,
          options: { temperature: 0, seed: 0 },
          messages: [
            { role: 'system', content: SYSTEM_PROMPT },
            { role: 'user', content: chunkPrompt(chunk) },
          ],
        });
        return { ok: true, content: res.message?.content ?? '', attempts: attempt };
      } catch (err) {
        last = describe(err, this.options.timeoutMs);
        const status = (err as { status_code?: number }).status_code;
        if (status !== undefined && status < 500) return { ok: false, reason: `the model request failed: ${last}`, attempts: attempt };
      }
      if (attempt <= retries) {
        await sleep(delay);
        delay *= 2;
      }
    }
    return { ok: false, reason: `the model did not answer after ${retries + 1} attempt(s): ${last}`, attempts: retries + 1 };
  }
}

function describe(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; status_code?: number; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  if (e?.status_code) return `HTTP ${e.status_code}: ${e.message}`;
  return e?.cause?.code ? `${e.message} (${e.cause.code})` : (e?.message ?? String(err));
}

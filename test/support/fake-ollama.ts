/**
 * A small HTTP server speaking Ollama's API (`/api/chat`, `/api/generate`, `/api/tags`,
 * `/api/version`) that plays scripted answers: the model cannot run here, and its wrong answers
 * (fenced SQL, invented tables or values, invalid JSON, HTTP 500, timeouts) must be testable.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer: the assistant's text, an HTTP error, or a delay first. */
export type FakeAnswer =
  | { readonly content: string; readonly delayMs?: number }
  | { readonly status: number; readonly error: string };

/** A request the fake received. */
export interface FakeRequest {
  readonly path: string;
  readonly body: Record<string, any>;
}

/** A running fake Ollama. */
export interface FakeOllama {
  readonly url: string;
  readonly requests: FakeRequest[];
  close(): Promise<void>;
}

/** Options of {@link startFakeOllama}. */
export interface FakeOllamaOptions {
  /** Models `/api/tags` lists. @defaultValue ['qwen2.5-coder:7b'] */
  readonly models?: readonly string[];
  /** The answer to a chat or generate request. */
  readonly answer: (req: FakeRequest) => FakeAnswer | Promise<FakeAnswer>;
}

async function readBody(req: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

/** Starts the fake on 127.0.0.1 and a free port. */
export async function startFakeOllama(options: FakeOllamaOptions): Promise<FakeOllama> {
  const requests: FakeRequest[] = [];
  const models = options.models ?? ['qwen2.5-coder:7b'];
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const body = req.method === 'POST' ? await readBody(req) : {};
      const r: FakeRequest = { path, body };
      requests.push(r);
      if (path === '/api/version') return send(200, { version: '0.6.0' });
      if (path === '/api/tags') {
        return send(200, {
          models: models.map((m) => ({ name: m, model: m, modified_at: '2025-01-01T00:00:00Z', size: 4_683_087_332, digest: 'sha256:0', details: { format: 'gguf', family: 'qwen2', parameter_size: '7.6B', quantization_level: 'Q4_K_M' } })),
        });
      }
      if (path !== '/api/chat' && path !== '/api/generate') return send(404, { error: `no route ${path}` });
      const a = await options.answer(r);
      if ('status' in a) return send(a.status, { error: a.error });
      if (a.delayMs) await new Promise((resolve) => setTimeout(resolve, a.delayMs));
      const common = { model: body['model'], created_at: new Date().toISOString(), done: true, done_reason: 'stop', total_duration: 1, eval_count: 1 };
      if (path === '/api/chat') return send(200, { ...common, message: { role: 'assistant', content: a.content } });
      return send(200, { ...common, response: a.content });
    } catch (err) {
      send(500, { error: (err as Error).message });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The entries of a chat request's user message (as `chunkPrompt` wrote them). */
export function entriesOf(req: FakeRequest): Array<{ entry: number; level: string; message: string; fields: Record<string, unknown> }> {
  const user = (req.body['messages'] as Array<{ role: string; content: string }> | undefined)?.find((m) => m.role === 'user');
  if (!user) return [];
  return JSON.parse(user.content.slice(user.content.indexOf('['))) as ReturnType<typeof entriesOf>;
}

/** An original-format entry that needs the model: the change is told only in the message. */
export const PAID_ENTRY = { timestamp: '2025-11-26T07:00:00.000Z', level: 'update', message: 'Hợp đồng HD001 đã thanh toán', city: 'TP1', soHD: 'HD001' };

const json = (items: unknown[]) => JSON.stringify({ items });

/** The right answer for {@link PAID_ENTRY}. */
export const RIGHT_ANSWER = json([{ entry: 1, table: 'contract', action: 'update', key: 'HD001', values: { is_paid: true } }]);

/** The scripted wrong answers: each must be caught, with a reason that says why. */
export const WRONG_ANSWERS: Array<{ name: string; answer: FakeAnswer; reason: RegExp }> = [
  { name: 'fenced SQL', answer: { content: "```sql\nUPDATE contract SET is_paid = 1 WHERE id = 'HD001';\n```" }, reason: /fenced text/ },
  { name: 'SQL text', answer: { content: "UPDATE contract SET is_paid = 1 WHERE id = 'HD001';" }, reason: /SQL text, not JSON/ },
  { name: 'a table not in the schema', answer: { content: json([{ entry: 1, table: 'hoc_phi', action: 'update', key: 'HD001', values: { is_paid: true } }]) }, reason: /table "hoc_phi" is not in the schema/ },
  { name: 'a value not in the entry', answer: { content: json([{ entry: 1, table: 'contract', action: 'update', key: 'HD001', values: { is_paid: true, unit_price: 3000 } }]) }, reason: /value 3000 of unit_price is not in the entry/ },
  { name: 'an update without a key', answer: { content: json([{ entry: 1, table: 'contract', action: 'update', key: '', values: { is_paid: true } }]) }, reason: /no key/ },
  { name: 'a key not in the entry', answer: { content: json([{ entry: 1, table: 'contract', action: 'update', key: 'HD002', values: { is_paid: true } }]) }, reason: /key "HD002" is not in the entry/ },
  {
    name: 'a second destructive statement',
    answer: { content: json([{ entry: 1, table: 'contract', action: 'update', key: 'HD001', values: { is_paid: true } }, { entry: 1, table: 'contract', action: 'delete', key: 'HD001', values: {} }]) },
    reason: /2 changes .* for one entry/,
  },
  { name: 'an action other than the level', answer: { content: json([{ entry: 1, table: 'contract', action: 'delete', key: 'HD001', values: {} }]) }, reason: /level is "update", the item's action "delete"/ },
  { name: 'invalid JSON', answer: { content: '{"items": [{"entry": 1, "table": "contract",' }, reason: /not JSON/ },
  { name: 'JSON of another shape', answer: { content: JSON.stringify({ sql: "UPDATE contract SET is_paid = 1 WHERE id = 'HD001'" }) }, reason: /does not match the item schema/ },
  { name: 'HTTP 500', answer: { status: 500, error: 'model runner crashed' }, reason: /did not answer after 2 attempt\(s\): HTTP 500/ },
  { name: 'a timeout', answer: { content: RIGHT_ANSWER, delayMs: 1500 }, reason: /no answer within 300 ms/ },
];


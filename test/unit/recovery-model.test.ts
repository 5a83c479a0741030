import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyModelAnswer, type ModelEntry } from '../../src/recovery/model-items.js';
import { runRecovery, type RecoveryOptions } from '../../src/recovery/run-recovery.js';
import { entriesOf, PAID_ENTRY as PAID, RIGHT_ANSWER as RIGHT, startFakeOllama, WRONG_ANSWERS, type FakeAnswer, type FakeOllama } from '../support/fake-ollama.js';

const entry = (e: Record<string, any>, n = 1): ModelEntry => ({ n, entry: { level: e['level'], message: e['message'], city: e['city'], fields: e }, action: e['level'] });
const json = (items: unknown[]) => JSON.stringify({ items });

describe('verifyModelAnswer', () => {
  it('accepts the right item and fills nothing the entry lacks', () => {
    const v = verifyModelAnswer([entry(PAID)], RIGHT).get(1)!;
    expect(v).toEqual({ ok: true, item: { table: 'contract', action: 'update', key: 'HD001', values: { is_paid: true } } });
  });

  it('an insert: values from the fields and the message, region from the entry', () => {
    const e = { timestamp: 't', level: 'insert', message: 'thêm khách hàng Nguyễn Thị B vào chi nhánh CN1', city: 'TP1', maKH: 'KH7' };
    const ok = verifyModelAnswer([entry(e)], json([{ entry: 1, table: 'customer', action: 'insert', key: 'KH7', values: { name: 'Nguyễn Thị B', branch_id: 'CN1' } }])).get(1)!;
    expect(ok).toEqual({ ok: true, item: { table: 'customer', action: 'insert', key: 'KH7', values: { name: 'Nguyễn Thị B', branch_id: 'CN1', region: 'TP1', id: 'KH7' } } });
    const invented = verifyModelAnswer([entry(e)], json([{ entry: 1, table: 'customer', action: 'insert', key: 'KH7', values: { name: 'Nguyễn Thị C', branch_id: 'CN1' } }])).get(1)!;
    expect(invented).toMatchObject({ ok: false, reason: expect.stringMatching(/"Nguyễn Thị C" of name is not in the entry/) });
  });

  it('each entry of a chunk gets its own verdict', () => {
    const other = { ...PAID, message: 'Hợp đồng HD009 đã thanh toán', soHD: 'HD009' };
    const verdicts = verifyModelAnswer([entry(PAID, 1), entry(other, 2)], json([{ entry: 1, table: 'contract', action: 'update', key: 'HD001', values: { is_paid: true } }]));
    expect(verdicts.get(1)!.ok).toBe(true);
    expect(verdicts.get(2)).toEqual({ ok: false, reason: 'the model returned no change for this entry' });
  });

  for (const w of WRONG_ANSWERS.filter((x) => 'content' in x.answer && !('delayMs' in x.answer))) {
    it(`rejects ${w.name}`, () => {
      const v = verifyModelAnswer([entry(PAID)], (w.answer as { content: string }).content).get(1)!;
      expect(v.ok).toBe(false);
      expect((v as { reason: string }).reason).toMatch(w.reason);
    });
  }
});

describe('runRecovery with a scripted Ollama', () => {
  let dir: string;
  let fake: FakeOllama;
  let script: FakeAnswer = { content: RIGHT };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ess-rec-model-'));
    const lines = [
      { timestamp: '2025-11-26T06:30:00.000Z', level: 'insert', message: 'thêm chi nhánh Hà Đông', city: 'TP1', maCN: 'CN1', tenCN: "Hà Đông 'A'", thanhpho: 'TP1' },
      PAID,
      { timestamp: '2025-11-26T07:30:00.000Z', level: 'update', message: 'Cập nhật thông tin học phí', city: 'TP1', transactionId: 'TRANS_999', amount: 5000000 },
      { timestamp: '2025-11-26T07:40:00.000Z', level: 'info', message: 'Server TP1 đang chạy ổn định', city: 'TP1' },
    ];
    await writeFile(path.join(dir, 'TP1-2025-11-26.log'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    fake = await startFakeOllama({ answer: () => script });
  });
  afterAll(async () => {
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const options = (over: Partial<RecoveryOptions> = {}): RecoveryOptions => ({
    site: 'db1',
    since: new Date('2025-11-26T00:00:00Z'),
    source: 'files',
    logDir: dir,
    timeZone: 'Asia/Ho_Chi_Minh',
    ai: true,
    apply: false,
    out: path.join(dir, 'out'),
    dialect: 'postgres',
    model: { url: fake.url, model: 'qwen2.5-coder:7b', timeoutMs: 300, retries: 1, retryDelayMs: 10 },
    ...over,
  });

  it('a right answer: converted-by-model, rendered after the deterministic insert, in log order', async () => {
    script = { content: RIGHT };
    fake.requests.length = 0;
    const { report, statements } = await runRecovery(options());
    expect(report.entries.map((e) => e.status)).toEqual(['converted', 'converted-by-model', 'refused', 'ignored']);
    expect(statements.map((s) => s.sql)).toEqual([
      "INSERT INTO branch AS t (id, name, region) VALUES ('CN1', 'Hà Đông ''A''', 'TP1') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region WHERE (t.name, t.region) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.region)",
      "UPDATE contract SET is_paid = TRUE WHERE id = 'HD001' AND (is_paid) IS DISTINCT FROM (TRUE)",
    ]);
    // Only the entry that needed it went to the model: temperature 0, structured output.
    const chats = fake.requests.filter((r) => r.path === '/api/chat');
    expect(chats).toHaveLength(1);
    expect(chats[0]!.body['options']).toMatchObject({ temperature: 0 });
    expect(chats[0]!.body['format']).toMatchObject({ type: 'object', required: ['items'] });
    expect(entriesOf(chats[0]!).map((e) => e.message)).toEqual(['Hợp đồng HD001 đã thanh toán']);
    expect(report.counts).toEqual({ converted: 1, 'converted-by-model': 1, 'needs-review': 0, refused: 1, ignored: 1, unparseable: 0 });
    const saved = JSON.parse(await readFile(report.reportPath, 'utf8'));
    expect(saved.entries[2]).toMatchObject({ status: 'refused', reason: expect.stringContaining('tuition (học phí)') });
  });

  for (const w of WRONG_ANSWERS) {
    it(`${w.name}: needs-review with the reason, and not in the script`, async () => {
      script = w.answer;
      const { report, statements } = await runRecovery(options());
      const e = report.entries[1]!;
      expect(e.status).toBe('needs-review');
      expect(e.reason).toMatch(w.reason);
      expect(statements).toHaveLength(1);
      const text = await readFile(report.scriptPath, 'utf8');
      expect(text).not.toContain('contract');
      expect(text).not.toContain('HD001');
    });
  }

  it('without the model (--no-ai), or with Ollama unreachable, the deterministic part still runs', async () => {
    const off = await runRecovery(options({ ai: false }));
    expect(off.report.entries[1]).toMatchObject({ status: 'needs-review', reason: expect.stringContaining('--no-ai') });
    expect(off.statements).toHaveLength(1);
    const down = await runRecovery(options({ model: { url: 'http://127.0.0.1:9', model: 'qwen2.5-coder:7b', timeoutMs: 500 } }));
    expect(down.report.entries[1]).toMatchObject({ status: 'needs-review', reason: expect.stringContaining('Ollama is not reachable at http://127.0.0.1:9') });
    expect(down.statements).toHaveLength(1);
    const noModel = await runRecovery(options({ model: { url: fake.url, model: 'llama3:8b', timeoutMs: 500 } }));
    expect(noModel.report.entries[1]!.reason).toContain('ollama pull llama3:8b');
  });
});

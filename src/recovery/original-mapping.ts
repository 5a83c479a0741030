/**
 * The original project's winston log entries (`{"timestamp","level","message","city", …fields}`)
 * mapped onto this schema through DESIGN.md section 2's table: deterministic where every field
 * maps, refused when the entry is about something the schema does not hold or names no key.
 */
import { ENTITIES, type EntityName } from '../domain/entities.js';
import { checkItem, type ChangeItem, type ItemAction } from './change.js';

/** One original table: its entity here, its key field and field → database column. */
export interface OriginalTable {
  readonly original: string;
  readonly entity: EntityName;
  readonly keyFields: readonly string[];
  readonly fields: Readonly<Record<string, string>>;
  /** Fields of which one must be present to tell this table from another with the same key. */
  readonly marker?: readonly string[];
}

/**
 * DESIGN.md section 2, in the order a table is tried (the most specific first: an invoice names
 * its contract and employee, a contract its customer, a customer its branch).
 */
export const ORIGINAL_TABLES: readonly OriginalTable[] = Object.freeze<OriginalTable[]>([
  { original: 'hoadon', entity: 'invoice', keyFields: ['soHDN'], fields: { soHDN: 'id', thang: 'month', nam: 'year', soHD: 'contract_id', maNV: 'employee_id', soTien: 'amount' } },
  {
    original: 'lichSuChuyenCongTac',
    entity: 'transfer',
    keyFields: ['id'],
    marker: ['maCNCu', 'maCNMoi'],
    fields: { id: 'id', MaNV: 'employee_id', MaKH: 'customer_id', NgayChuyen: 'moved_at', maCNCu: 'from_branch_id', maCNMoi: 'to_branch_id' },
  },
  {
    original: 'hopdong',
    entity: 'contract',
    keyFields: ['soHD'],
    fields: { soHD: 'id', ngayKy: 'signed_on', maKH: 'customer_id', soDienKe: 'meter_serial', kwDinhMuc: 'kwh_quota', dongiaKW: 'unit_price', isPaid: 'is_paid' },
  },
  { original: 'khachhang', entity: 'customer', keyFields: ['maKH', 'MaKH'], fields: { maKH: 'id', MaKH: 'id', tenKH: 'name', maCN: 'branch_id' } },
  {
    original: 'nhanvien',
    entity: 'employee',
    keyFields: ['maNV', 'MaNV'],
    fields: { maNV: 'id', MaNV: 'id', hoten: 'full_name', maCN: 'branch_id', Email: 'email', email: 'email', Role: 'role', role: 'role' },
  },
  { original: 'chinhanh', entity: 'branch', keyFields: ['maCN'], fields: { maCN: 'id', tenCN: 'name', thanhpho: 'region' } },
]);

/** Fields of a winston entry that describe the line, not the data. */
export const META_FIELDS: ReadonlySet<string> = new Set(['timestamp', 'level', 'message', 'city', 'action', 'user', 'service', 'hostname', 'pid', 'label', 'ms', 'requestId', 'ip']);

/** Change levels of the original logs. */
const CHANGE_LEVELS: Readonly<Record<string, ItemAction>> = { insert: 'insert', update: 'update', delete: 'delete' };

/**
 * Words and fields naming things that are not in the electricity schema (the course project's
 * template logs: students, tuition, courses). An entry with one is refused, never sent to the model.
 */
const NOT_IN_SCHEMA: ReadonlyArray<{ what: string; words: RegExp }> = [
  { what: 'students (sinh viên)', words: /sinh\s*vi[eê]n|\bstudent/iu },
  { what: 'tuition (học phí)', words: /h[oọ]c\s*ph[ií]|tuition/iu },
  { what: 'courses (môn học)', words: /m[oô]n\s*h[oọ]c|\bcourse|\bsubject/iu },
  { what: 'classes (lớp học)', words: /l[oớ]p\s*h[oọ]c|\bclassroom/iu },
  { what: 'grades (điểm thi)', words: /đi[eể]m\s*thi|\bgrade/iu },
];

/** A winston entry as read: level, message, region (`city`) and its other fields. */
export interface OriginalEntry {
  readonly level: string;
  readonly message: string;
  readonly city: string | undefined;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** What the deterministic path says about an original entry. */
export type OriginalVerdict =
  | { readonly status: 'ignored'; readonly reason: string }
  | { readonly status: 'refused'; readonly reason: string }
  | { readonly status: 'converted'; readonly item: ChangeItem; readonly reason: string }
  /** The entry is a change with a key, but no rule converts it: the model may (`reason` says why not here). */
  | { readonly status: 'model'; readonly reason: string; readonly action: ItemAction };

/** The data fields of an entry (all but {@link META_FIELDS}). */
export function dataFields(entry: OriginalEntry): string[] {
  return Object.keys(entry.fields).filter((f) => !META_FIELDS.has(f));
}

/** The original table an entry's fields belong to: its key present and every data field its own. */
export function originalTableOf(entry: OriginalEntry): { table: OriginalTable; unmapped: string[] } | undefined {
  const fields = dataFields(entry);
  let best: { table: OriginalTable; unmapped: string[] } | undefined;
  for (const t of ORIGINAL_TABLES) {
    if (!t.keyFields.some((k) => entry.fields[k] !== undefined && entry.fields[k] !== null && entry.fields[k] !== '')) continue;
    if (t.marker && !t.marker.some((m) => m in entry.fields)) continue;
    const unmapped = fields.filter((f) => !(f in t.fields));
    if (unmapped.length === 0) return { table: t, unmapped };
    best ??= { table: t, unmapped };
  }
  return best;
}

/** Things the entry names that the schema does not hold, from its message and field names. */
export function notInSchema(entry: OriginalEntry): string[] {
  const text = `${entry.message} ${Object.keys(entry.fields).join(' ')}`.normalize('NFC');
  return NOT_IN_SCHEMA.filter((n) => n.words.test(text)).map((n) => n.what);
}

/** An id-like token in a message (`HD001`, `CN-9`, `KH_12`): a key the model may find there. */
const ID_TOKEN = /\b[A-Za-z]{1,6}[-_]?\d+[A-Za-z0-9_-]*\b/u;

/**
 * Decides an original entry deterministically.
 * - not a change level (`info`, `warn`, …): ignored;
 * - names students, tuition, courses…: refused;
 * - no key of a mapped table in its fields (nor an id in its message): refused;
 * - every data field maps into one table and the item passes {@link checkItem}: converted;
 * - otherwise: for the model, with the reason no rule converted it.
 * `regionOf` fills a row's region on insert: `thanhpho` for a branch, else the entry's `city`.
 */
export function decideOriginal(entry: OriginalEntry): OriginalVerdict {
  const action = CHANGE_LEVELS[entry.level];
  if (!action) return { status: 'ignored', reason: `not a change (level "${entry.level}")` };
  const foreign = notInSchema(entry);
  if (foreign.length) return { status: 'refused', reason: `about ${foreign.join(' and ')}, which the electricity schema does not hold` };
  const found = originalTableOf(entry);
  if (!found) {
    if (ID_TOKEN.test(entry.message)) return { status: 'model', action, reason: 'no field names a key of the schema; the message may' };
    const fields = dataFields(entry);
    return { status: 'refused', reason: `carries no key of the schema${fields.length ? ` (fields ${fields.join(', ')} map to no table)` : ''}` };
  }
  const { table, unmapped } = found;
  if (unmapped.length) return { status: 'model', action, reason: `field(s) ${unmapped.join(', ')} map to no column of ${table.original}` };
  const def = ENTITIES[table.entity];
  const values: Record<string, unknown> = {};
  for (const [f, v] of Object.entries(entry.fields)) if (f in table.fields) values[table.fields[f]!] = v;
  const key = String(values['id']);
  if (action === 'insert' && def.columns.some((c) => c.column === 'region') && values['region'] === undefined && entry.city) values['region'] = entry.city;
  const item: ChangeItem = {
    table: def.table,
    action,
    key,
    values: action === 'delete' ? {} : (values as ChangeItem['values']),
  };
  const checked = checkItem(item);
  if ('error' in checked) return { status: 'model', action, reason: `the fields alone do not make a change: ${checked.error}` };
  return { status: 'converted', item: checked.item, reason: `${table.original} → ${def.table} (DESIGN.md section 2)` };
}

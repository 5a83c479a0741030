/**
 * The entities of the electricity service schema and how each finds its region
 * (DESIGN.md section 2). One table-driven definition serves validation, the site stores (SQL is
 * generated per dialect from it), the API's row shape, verify and recovery.
 */
import type { Region } from './fragmentation.js';

/** Names of the regional (fragmented) entities. */
export type EntityName =
  | 'branch'
  | 'employee'
  | 'customer'
  | 'contract'
  | 'meterReading'
  | 'invoice'
  | 'payment'
  | 'transfer';

/**
 * Column value kinds:
 * `text`; `date` (`YYYY-MM-DD`); `kwh` (decimal text, 3 decimals, kWh); `vnd` (whole VND, integer);
 * `int`; `bool`; `instant` (ISO 8601 with offset).
 */
export type ColumnKind = 'text' | 'date' | 'kwh' | 'vnd' | 'int' | 'bool' | 'instant';

/** One column: its API field name, its database column, kind and rules. */
export interface ColumnDef {
  /** API field (camelCase). */
  readonly field: string;
  /** Database column (snake_case). */
  readonly column: string;
  readonly kind: ColumnKind;
  /** Required on create. */
  readonly required: boolean;
  /** May change on update (keys, parents and the region never change). */
  readonly mutable: boolean;
  /** Max length for text. */
  readonly maxLength?: number;
  /** Inclusive bounds for int. */
  readonly min?: number;
  readonly max?: number;
}

/** A regional entity: its table, key, columns and the parent that gives it its region. */
export interface EntityDef {
  readonly name: EntityName;
  readonly table: string;
  /** URL segment under `/api/`. */
  readonly path: string;
  /** The key column's API field and database column are both `id`. */
  readonly columns: readonly ColumnDef[];
  /** Parent entity and the field naming it (derived fragmentation); absent for branch. */
  readonly parent?: { readonly entity: EntityName; readonly field: string; readonly column: string };
  /** Other foreign references checked at the gateway (same region). */
  readonly refs?: readonly { readonly entity: EntityName; readonly field: string; readonly column: string }[];
  /** Writes accepted through the API. */
  readonly writable: boolean;
}

const c = (
  field: string,
  column: string,
  kind: ColumnKind,
  opts: Partial<Pick<ColumnDef, 'required' | 'mutable' | 'maxLength' | 'min' | 'max'>> = {},
): ColumnDef => ({ field, column, kind, required: opts.required ?? true, mutable: opts.mutable ?? true, ...opts });

const ID = c('id', 'id', 'text', { mutable: false, maxLength: 64 });
const REGION = c('region', 'region', 'text', { mutable: false, maxLength: 8 });

/** Every regional entity, parents before children. */
export const ENTITIES: Readonly<Record<EntityName, EntityDef>> = Object.freeze({
  branch: {
    name: 'branch',
    table: 'branch',
    path: 'branches',
    writable: true,
    columns: [ID, c('name', 'name', 'text', { maxLength: 200 }), REGION],
  },
  employee: {
    name: 'employee',
    table: 'employee',
    path: 'employees',
    writable: true,
    parent: { entity: 'branch', field: 'branchId', column: 'branch_id' },
    columns: [
      ID,
      c('fullName', 'full_name', 'text', { maxLength: 200 }),
      c('branchId', 'branch_id', 'text', { mutable: false, maxLength: 64 }),
      c('email', 'email', 'text', { required: false, maxLength: 320 }),
      c('role', 'role', 'text', { required: false, maxLength: 40 }),
      REGION,
    ],
  },
  customer: {
    name: 'customer',
    table: 'customer',
    path: 'customers',
    writable: true,
    parent: { entity: 'branch', field: 'branchId', column: 'branch_id' },
    columns: [
      ID,
      c('name', 'name', 'text', { maxLength: 200 }),
      c('branchId', 'branch_id', 'text', { mutable: false, maxLength: 64 }),
      c('address', 'address', 'text', { required: false, maxLength: 400 }),
      c('phone', 'phone', 'text', { required: false, maxLength: 40 }),
      REGION,
    ],
  },
  contract: {
    name: 'contract',
    table: 'contract',
    path: 'contracts',
    writable: true,
    parent: { entity: 'customer', field: 'customerId', column: 'customer_id' },
    columns: [
      ID,
      c('customerId', 'customer_id', 'text', { mutable: false, maxLength: 64 }),
      c('signedOn', 'signed_on', 'date'),
      c('meterSerial', 'meter_serial', 'text', { maxLength: 64 }),
      c('kwhQuota', 'kwh_quota', 'kwh', { required: false }),
      c('unitPrice', 'unit_price', 'vnd', { required: false }),
      c('isPaid', 'is_paid', 'bool', { required: false }),
      REGION,
    ],
  },
  meterReading: {
    name: 'meterReading',
    table: 'meter_reading',
    path: 'meter-readings',
    writable: true,
    parent: { entity: 'contract', field: 'contractId', column: 'contract_id' },
    columns: [
      ID,
      c('contractId', 'contract_id', 'text', { mutable: false, maxLength: 64 }),
      c('readOn', 'read_on', 'date'),
      c('kwh', 'kwh', 'kwh'),
      c('meterIndex', 'meter_index', 'kwh', { required: false }),
      c('halfHours', 'half_hours', 'int', { required: false, min: 0, max: 48 }),
      REGION,
    ],
  },
  invoice: {
    name: 'invoice',
    table: 'invoice',
    path: 'invoices',
    writable: false,
    parent: { entity: 'contract', field: 'contractId', column: 'contract_id' },
    columns: [
      ID,
      c('contractId', 'contract_id', 'text', { mutable: false, maxLength: 64 }),
      c('month', 'month', 'int', { min: 1, max: 12 }),
      c('year', 'year', 'int', { min: 2000, max: 2100 }),
      c('employeeId', 'employee_id', 'text', { required: false, maxLength: 64 }),
      c('kwh', 'kwh', 'kwh', { required: false }),
      c('amount', 'amount', 'vnd'),
      REGION,
    ],
  },
  payment: {
    name: 'payment',
    table: 'payment',
    path: 'payments',
    writable: false,
    parent: { entity: 'invoice', field: 'invoiceId', column: 'invoice_id' },
    columns: [
      ID,
      c('invoiceId', 'invoice_id', 'text', { mutable: false, maxLength: 64 }),
      c('paidAt', 'paid_at', 'instant'),
      c('amount', 'amount', 'vnd'),
      REGION,
    ],
  },
  transfer: {
    name: 'transfer',
    table: 'transfer',
    path: 'transfers',
    writable: false,
    columns: [
      ID,
      c('employeeId', 'employee_id', 'text', { required: false, maxLength: 64 }),
      c('customerId', 'customer_id', 'text', { required: false, maxLength: 64 }),
      c('movedAt', 'moved_at', 'instant'),
      c('fromBranchId', 'from_branch_id', 'text', { maxLength: 64 }),
      c('toBranchId', 'to_branch_id', 'text', { maxLength: 64 }),
      REGION,
    ],
  },
});

/** Entities in dependency order (parents first): the order of verify and of catalog rebuilds. */
export const ENTITY_ORDER: readonly EntityName[] = Object.freeze([
  'branch',
  'employee',
  'customer',
  'contract',
  'meterReading',
  'invoice',
  'payment',
  'transfer',
]);

/** True when `s` names an entity. */
export function isEntityName(s: unknown): s is EntityName {
  return typeof s === 'string' && Object.hasOwn(ENTITIES, s);
}

/** A row as the API shows it: API field names; kWh as decimal text; VND as integers. */
export type Row = Record<string, string | number | boolean | null>;

/** Where a regional entity lives: its region and the branch at the root of its derivation chain. */
export interface Placement {
  readonly region: Region;
  readonly branchId: string;
}

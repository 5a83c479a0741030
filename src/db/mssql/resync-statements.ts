/**
 * T-SQL of the resync methods (`journalOpIds`, `entityStates`, `installStates`): pure functions,
 * parameterised, like `statements.ts`.
 */
import type { EntityName } from '../../domain/entities.js';
import type { Region } from '../../domain/fragmentation.js';
import type { EntityState, JournalEntry } from '../site-store.js';
import { journalRowParams, type MssqlStatement } from './statements.js';

/** Op ids of a region in the journal. Returns rows `op_id`. */
export function journalOpIdsStatement(region: Region): MssqlStatement {
  return { text: 'SELECT [op_id] FROM [op_journal] WHERE [region] = @region', params: [{ name: 'region', type: 'nvarchar(8)', value: region }] };
}

/** Versions of a set of keys of one entity (keys as one JSON array). Returns `entity_key`, `seq`, `deleted`. */
export function entityVersionsStatement(entity: EntityName, keys: readonly string[]): MssqlStatement {
  return {
    text: 'SELECT [entity_key], [seq], [deleted] FROM [entity_version] WHERE [entity] = @entity AND [entity_key] IN (SELECT [value] COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@keys))',
    params: [
      { name: 'entity', type: 'nvarchar(40)', value: entity },
      { name: 'keys', type: 'nvarchar(max)', value: JSON.stringify(keys) },
    ],
  };
}

/** Inserts a journal entry copied from another site, unless its op id is there. */
export function copyJournalEntryStatement(e: JournalEntry): MssqlStatement {
  return {
    text: [
      'INSERT INTO [op_journal] ([op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [error], [accepted_at])',
      'SELECT @op_id, @region, @entity, @entity_key, @action, @payload, @seq, @epoch, @outcome, @error, @accepted_at',
      'WHERE NOT EXISTS (SELECT 1 FROM [op_journal] WITH (UPDLOCK, HOLDLOCK) WHERE [op_id] = @op_id)',
    ].join('\n'),
    params: [
      ...journalRowParams(e),
      { name: 'outcome', type: 'nvarchar(12)', value: e.outcome },
      { name: 'error', type: 'nvarchar(max)', value: e.error },
    ],
  };
}

/** Raises an entity's version to the state's when lower (or inserts it). Returns one row `newer` (bit). */
export function versionGateStatement(s: EntityState, region: Region): MssqlStatement {
  return {
    text: [
      'MERGE [entity_version] WITH (HOLDLOCK) AS t',
      'USING (SELECT @entity AS [entity], @entity_key AS [entity_key]) AS s',
      'ON t.[entity] = s.[entity] AND t.[entity_key] = s.[entity_key]',
      'WHEN MATCHED AND t.[seq] < @seq THEN UPDATE SET t.[seq] = @seq, t.[deleted] = @deleted',
      'WHEN NOT MATCHED THEN INSERT ([entity], [entity_key], [region], [seq], [deleted]) VALUES (@entity, @entity_key, @region, @seq, @deleted);',
      'SELECT CAST(CASE WHEN @@ROWCOUNT = 1 THEN 1 ELSE 0 END AS BIT) AS [newer];',
    ].join('\n'),
    params: [
      { name: 'entity', type: 'nvarchar(40)', value: s.entity },
      { name: 'entity_key', type: 'nvarchar(64)', value: s.key },
      { name: 'region', type: 'nvarchar(8)', value: region },
      { name: 'seq', type: 'bigint', value: s.seq },
      { name: 'deleted', type: 'bit', value: s.deleted || !s.row },
    ],
  };
}

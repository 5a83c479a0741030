import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVICE_HEAP_MB, PROJECT_ROOT, serviceEntry } from '../../src/config/config.js';

describe('serviceEntry: how npm start and the bench start the gateway and the workers', () => {
  it('compiled JavaScript under dist/ with ESS_COMPILED=1, the heap capped at the default', () => {
    expect(DEFAULT_SERVICE_HEAP_MB).toBe(128);
    expect(serviceEntry('gateway', { ESS_COMPILED: '1' })).toEqual({
      nodeArgs: ['--max-old-space-size=128'],
      entry: path.join(PROJECT_ROOT, 'dist', 'src', 'gateway.js'),
    });
    expect(serviceEntry('workers', { ESS_COMPILED: '1', ESS_SERVICE_HEAP_MB: '256' })).toEqual({
      nodeArgs: ['--max-old-space-size=256'],
      entry: path.join(PROJECT_ROOT, 'dist', 'workers', 'index.js'),
    });
  });
  it('the TypeScript through tsx otherwise; 0 leaves the heap to Node', () => {
    expect(serviceEntry('workers', { ESS_SERVICE_HEAP_MB: '0' })).toEqual({
      nodeArgs: ['--import', 'tsx'],
      entry: path.join(PROJECT_ROOT, 'workers', 'index.ts'),
    });
  });
  it('refuses a heap size that is not a whole number of MB, naming the variable', () => {
    expect(() => serviceEntry('gateway', { ESS_SERVICE_HEAP_MB: '1.5GB' })).toThrow('ESS_SERVICE_HEAP_MB must be a whole number of MB (0 for Node\'s default), got "1.5GB"');
    expect(() => serviceEntry('gateway', { ESS_SERVICE_HEAP_MB: '-1' })).toThrow('ESS_SERVICE_HEAP_MB');
  });
});

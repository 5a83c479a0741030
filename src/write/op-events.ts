import type { Row } from '../domain/entities.js';

/** A pub/sub message telling gateways that an op finished: replicated on both copies, or failed. */
export interface OpEvent {
  readonly opId: string;
  readonly state: 'replicated' | 'failed';
  /** The row after the change (API fields), null after a delete or when superseded. */
  readonly row: Row | null;
  readonly error: string | null;
}

/** Builds an {@link OpEvent}. */
export function opEvent(opId: string, state: OpEvent['state'], row: Row | null, error: string | null): OpEvent {
  return { opId, state, row, error };
}

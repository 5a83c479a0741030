/**
 * Domain errors. Each carries a stable `code`; the HTTP status is chosen in one place
 * (`src/http/error-handler.ts`), never in domain code.
 */

/** Stable error codes, shared by the API, the logs and the op journal. */
export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'not_found'
  | 'conflict'
  | 'idempotency_mismatch'
  | 'unavailable'
  | 'unauthorized'
  | 'parent_missing'
  | 'row_missing'
  | 'has_children'
  | 'rejected_by_site'
  | 'site_unavailable'
  | 'internal';

/** One field problem in a request body: `path` like `readings[3].kwh`. */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

/** An error of this system with a stable code and optional field problems. */
export class EssError extends Error {
  override readonly name = 'EssError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { fields?: FieldProblem[]; [k: string]: unknown },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when the error is an {@link EssError} with one of the codes. */
export function isEssError(err: unknown, ...codes: ErrorCode[]): err is EssError {
  return err instanceof EssError && (codes.length === 0 || codes.includes(err.code));
}

import { type ErrorCode, SkjoldError } from '../lib/errors.ts';

export interface StoreErrorOptions {
  /** Whether the same call can succeed later (store down, timeout) or never will (rejected data, no permission). */
  retryable: boolean;
  /** HTTP status the store answered with, when it answered. */
  httpStatus?: number;
  cause?: unknown;
}

/** A SkjoldError from a telemetry store, marked retryable or not so writers know whether to keep a batch. */
export class StoreError extends SkjoldError {
  readonly retryable: boolean;
  readonly httpStatus: number | undefined;

  constructor(code: ErrorCode, detail: string, options: StoreErrorOptions) {
    super(code, detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreError';
    this.retryable = options.retryable;
    this.httpStatus = options.httpStatus;
  }
}

/** True when `err` says trying again later may succeed. Unknown errors are not retryable. */
export function isRetryable(err: unknown): boolean {
  return (err as { retryable?: unknown } | null)?.retryable === true;
}

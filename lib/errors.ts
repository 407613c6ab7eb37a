/**
 * Every error Skjold raises on purpose carries a stable `SKJOLD_ERR_*` code and
 * the HTTP status it maps to. docs/errors.md lists the same codes; a test keeps
 * the two in step. Messages never include a raw identifier: callers pass
 * pseudonyms or field names, never values.
 */
export const ERROR_CODES = {
  SKJOLD_ERR_CONFIG: { status: 500, message: 'invalid configuration' },
  SKJOLD_ERR_KEYS: { status: 500, message: 'pseudonymisation keys unavailable or invalid' },
  SKJOLD_ERR_KEY_VERSION: { status: 404, message: 'no such pseudonymisation key version' },
  SKJOLD_ERR_KEY_CURRENT: { status: 409, message: 'the current key version cannot be destroyed' },
  SKJOLD_ERR_KEY_IN_USE: { status: 409, message: 'the key version is still needed' },
  SKJOLD_ERR_KEYS_READ_ONLY: { status: 409, message: 'the key material is read-only here' },
  SKJOLD_ERR_DECOMMISSIONED: { status: 409, message: 'the device is decommissioned' },
  SKJOLD_ERR_IDENTIFIER_INVALID: { status: 400, message: 'identifier fails validation' },
  SKJOLD_ERR_AUTH: { status: 401, message: 'authentication failed' },
  SKJOLD_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  SKJOLD_ERR_CONFLICT: { status: 409, message: 'already exists' },
  SKJOLD_ERR_VALIDATION: { status: 400, message: 'request is invalid' },
  SKJOLD_ERR_CSV: { status: 400, message: 'CSV import is invalid' },
  SKJOLD_ERR_QUERY_TOO_LARGE: { status: 400, message: 'telemetry query would return too much' },
  SKJOLD_ERR_STORE_WRITE: { status: 503, message: 'time-series store rejected or failed a write' },
  SKJOLD_ERR_STORE_QUERY: { status: 502, message: 'time-series store query failed' },
  SKJOLD_ERR_STORE_UNAVAILABLE: { status: 503, message: 'time-series store is unreachable' },
  SKJOLD_ERR_TRANSPORT_CLOSED: { status: 503, message: 'transport is closed' },
  SKJOLD_ERR_SPOOL_LOCKED: { status: 500, message: 'spool directory is used by another process' },
  SKJOLD_ERR_SPOOL_FORMAT: { status: 500, message: 'spool holds records this version cannot read' },
  SKJOLD_ERR_KAFKA: { status: 503, message: 'Kafka did not acknowledge the write' },
  SKJOLD_ERR_REGISTRY: { status: 500, message: 'registry operation failed' },
  SKJOLD_ERR_MIGRATION: { status: 500, message: 'registry migration failed' },
  SKJOLD_ERR_RETENTION: { status: 500, message: 'retention run stopped before it finished' },
  SKJOLD_ERR_SCOPE: { status: 403, message: 'token lacks the scope for this action' },
  SKJOLD_ERR_RATE_LIMITED: { status: 429, message: 'too many requests' },
  SKJOLD_ERR_REQUEST_STATE: { status: 409, message: 'request cannot change that way' },
  SKJOLD_ERR_CONSENT_REQUIRED: { status: 422, message: 'explicit consent required' },
  SKJOLD_ERR_MOVE_RUNNING: { status: 409, message: 'tenant is already moving' },
  SKJOLD_ERR_MOVE_VERIFY: { status: 500, message: 'tenant move copy does not match its source' },
  SKJOLD_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SkjoldError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const base = ERROR_CODES[code].message;
    super(detail ? `${base}: ${detail}` : base, options);
    this.name = 'SkjoldError';
    this.code = code;
    this.statusCode = ERROR_CODES[code].status;
  }
}

export function isSkjoldError(err: unknown, code?: ErrorCode): err is SkjoldError {
  return err instanceof SkjoldError && (code === undefined || err.code === code);
}

import pino, { type DestinationStream, type Logger } from 'pino';

/** Keys whose value is a raw identifier, a secret, a payload or free text, wherever they appear. */
const SENSITIVE_KEYS = [
  'password',
  'secret',
  'token',
  'authorization',
  'username',
  'payload',
  'identifiers',
  'iccid',
  'imsi',
  'imei',
  'imeisv',
  'msisdn',
  'wmbus',
  'serial',
  'note',
] as const;

/** How deep below the top level a sensitive key is censored: `a.b.c.iccid` is the deepest. */
const DEPTH = 3;

/**
 * The base logger. Redaction is by construction: any field a caller might
 * fill with a raw identifier, a secret or a payload is censored here, once,
 * for every child logger, at the top level and up to DEPTH objects down
 * (`err.payload`, `device.identifiers.imsi`, `batch.0.iccid`), so a nested
 * object logged whole leaks nothing either (art. 32(1)). Path redaction cannot
 * see identifiers inside free text, so services log pseudonyms and counts,
 * never values (STYLE.md).
 */
export const REDACT_PATHS = [
  ...Array.from({ length: DEPTH + 1 }, (_, depth) =>
    SENSITIVE_KEYS.map((key) => `${'*.'.repeat(depth)}${key}`),
  ).flat(),
  'req.headers.authorization',
];

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'skjold' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Errors are serialised with their code; stack traces stay (they hold no data).
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

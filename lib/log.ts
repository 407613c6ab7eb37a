import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * The base logger. Redaction is by construction: any field a caller might
 * fill with a raw identifier, a secret or a payload is censored here, once,
 * for every child logger. Path redaction cannot see identifiers inside free
 * text, so services log pseudonyms and counts, never values (STYLE.md).
 */
export const REDACT_PATHS = [
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
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.username',
  '*.payload',
  '*.identifiers',
  '*.iccid',
  '*.imsi',
  '*.imei',
  '*.msisdn',
  '*.wmbus',
  '*.serial',
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

import pino, { type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { Config } from './config.ts';

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

export type LogFormat = Config['SKJOLD_LOG_FORMAT'];

/** A stream logs are written to, and whether it is a terminal. */
export type LogOutput = DestinationStream & { isTTY?: boolean };

/**
 * pino-pretty for a person at a terminal: one line per event, local time, no
 * pid, host or service name. It renders what pino has already redacted, so
 * the censored paths above are censored here too.
 */
export function prettyDestination(out: LogOutput): DestinationStream {
  return pinoPretty({
    destination: out,
    // Colour only on a terminal; pino-pretty's own default also honours NO_COLOR there.
    ...(out.isTTY ? {} : { colorize: false }),
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
}

/** Pretty on a terminal (or when asked for), JSON otherwise — for log shippers and pipes. */
export function logDestination(format: LogFormat, out: LogOutput = process.stdout): DestinationStream {
  const pretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  return pretty ? prettyDestination(out) : out;
}

/** The logger `skjold start` and `skjold writer` use: SKJOLD_LOG_LEVEL and SKJOLD_LOG_FORMAT, to stdout. */
export function createConfiguredLogger(
  config: Pick<Config, 'SKJOLD_LOG_LEVEL' | 'SKJOLD_LOG_FORMAT'>,
  out: LogOutput = process.stdout,
): Logger {
  return createLogger(config.SKJOLD_LOG_LEVEL, logDestination(config.SKJOLD_LOG_FORMAT, out));
}

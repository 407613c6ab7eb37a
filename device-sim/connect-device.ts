/**
 * Connects one simulated device the way the contract says a device connects:
 * username = login identifier, password = secret, a client id that does not
 * contain the identifier, MQTT 3.1.1, clean session, keepalive 30 s.
 */
import { connect, ErrorWithReasonCode, type MqttClient } from 'mqtt';

export interface ConnectDeviceOptions {
  mqttUrl: string;
  login: string;
  password: string;
  clientId: string;
  /** Give up on the first CONNACK after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Pause between reconnect attempts once connected (default 250 ms). */
  reconnectPeriodMs?: number;
  /** Called for every client error, with a short stable key (never a raw identifier). */
  onError: (key: string) => void;
  signal?: AbortSignal;
}

export type ConnectOutcome =
  | { ok: true; client: MqttClient }
  | { ok: false; refused: boolean; reason: string };

/** A short, identifier-free key for an error, for the report's error counts. */
export function errorKey(err: unknown): string {
  if (err instanceof ErrorWithReasonCode) return `connack_${err.code}`;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') return String(code);
    return err.message.slice(0, 60);
  }
  return 'unknown';
}

export function connectDevice(opts: ConnectDeviceOptions): Promise<ConnectOutcome> {
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  const client = connect(opts.mqttUrl, {
    username: opts.login,
    password: opts.password,
    clientId: opts.clientId,
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: opts.reconnectPeriodMs ?? 250,
    connectTimeout: timeoutMs,
    // A refused CONNACK (bad credentials) is final: retrying would only hammer the broker.
    reconnectOnConnackError: false,
  });
  // Always listening: an 'error' event without a listener would throw.
  client.on('error', (err) => opts.onError(errorKey(err)));

  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      opts.signal?.removeEventListener('abort', onAbort);
      if (!outcome.ok) client.end(true);
      resolve(outcome);
    };
    const onConnect = (): void => finish({ ok: true, client });
    const onError = (err: Error): void => {
      // [MQTT-3.2.2-5] a non-zero CONNACK return code means the server closes the connection.
      if (err instanceof ErrorWithReasonCode && err.code > 0) {
        finish({ ok: false, refused: true, reason: errorKey(err) });
      }
      // Anything else (ECONNREFUSED, resets): mqtt.js retries until the timeout.
    };
    const onAbort = (): void => finish({ ok: false, refused: false, reason: 'aborted' });
    const timer = setTimeout(
      () => finish({ ok: false, refused: false, reason: 'connect_timeout' }),
      timeoutMs,
    );
    client.on('connect', onConnect);
    client.on('error', onError);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

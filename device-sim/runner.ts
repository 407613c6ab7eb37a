/**
 * Runs a fleet against an MQTT broker: one mqtt.js client per device, each
 * publishing on its own jittered timer, some of them misbehaving on purpose.
 * The report lists every well-formed reading the broker took (so tests can
 * look for exactly those downstream), every misbehaving message, and every raw
 * identifier the run used (so leak tests know what must never show up).
 *
 * Misbehaving messages go out at QoS 0 whatever `qos` says: a broker that drops
 * the connection over one would otherwise see it redelivered on every reconnect.
 */
import type { MqttClient } from 'mqtt';
import { connectDevice, errorKey } from './connect-device.ts';
import { drainWait } from './drain-wait.ts';
import { deviceIdentifiers, type SimDevice } from './fleet.ts';
import { createIdentifierSource, type IdentifierSource } from './identifiers.ts';
import { mapLimit } from './map-limit.ts';
import { type ModelState, modelState } from './models.ts';
import { type MisbehaveOptions, nextMessage } from './next-message.ts';
import type { Reading } from './payloads.ts';
import { createRng, type Rng } from './random.ts';

export type { MisbehaveOptions };

export interface RunFleetOptions {
  mqttUrl: string;
  devices: SimDevice[];
  /** Stop each device after this many messages. */
  messagesPerDevice?: number;
  /** Stop publishing this long after the first device starts. */
  durationMs?: number;
  /** Messages per second per device. */
  ratePerDevice: number;
  qos?: 0 | 1;
  /** Device clock at the first message (default: now). */
  startTime?: Date;
  /** Device clock advance per message; default: the device clock follows real time. */
  timeStepMs?: number;
  misbehave?: MisbehaveOptions;
  signal?: AbortSignal;
  connectConcurrency?: number;
  /** Seed for client ids and misbehaviour decisions (default 1). */
  seed?: number | string;
  /** First sequence number of each device (default 0); raise it to keep seqs unique across runs. */
  firstSeq?: number;
  /** Record hidden identifiers here too (pass the fleet's `identifiers`). */
  identifiers?: IdentifierSource;
  /** How long to wait for outstanding PUBACKs when stopping (default 10 s). */
  drainTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface SentReading {
  login: string;
  kind: SimDevice['kind'];
  tenantId: string;
  seq: number;
  ts: string;
  payload: Reading;
}

export interface Misbehaved {
  login: string;
  seq: number;
  /** 'malformed_json' | 'wrong_schema' | 'oversize' */
  kind: string;
  variant?: string;
}

export interface RunReport {
  /** Every PUBLISH sent, well-formed or not. */
  published: number;
  /** Well-formed readings confirmed: PUBACK received (QoS 1) or written to the socket (QoS 0). */
  acked: number;
  /** Well-formed QoS 1 readings still without PUBACK when the drain deadline passed. */
  unacked: number;
  refusedConnects: number;
  /** Logins whose connection was refused. */
  refused: string[];
  errors: Record<string, number>;
  sent: SentReading[];
  misbehaved: Misbehaved[];
  /** Every raw identifier the run used: the devices' own and those hidden in notes (canonical form). */
  rawIdentifiers: string[];
  /** Hidden identifiers as written in notes where that differs from the canonical form (e.g. spaced). */
  hiddenForms: string[];
}

interface Running {
  device: SimDevice;
  client: MqttClient;
  rng: Rng;
  state: ModelState;
  ids: IdentifierSource;
  topic: string;
  n: number;
  timer?: NodeJS.Timeout;
}

export async function runFleet(opts: RunFleetOptions): Promise<RunReport> {
  if (!(opts.ratePerDevice > 0)) throw new RangeError('ratePerDevice must be > 0');
  if (opts.messagesPerDevice === undefined && opts.durationMs === undefined && !opts.signal) {
    throw new RangeError('give messagesPerDevice, durationMs or signal, or the run never ends');
  }
  const qos = opts.qos ?? 1;
  const mis = opts.misbehave ?? {};
  const seed = opts.seed ?? 1;
  const firstSeq = opts.firstSeq ?? 0;
  const startMs = (opts.startTime ?? new Date()).getTime();
  const intervalMs = 1000 / opts.ratePerDevice;

  const report: RunReport = {
    published: 0,
    acked: 0,
    unacked: 0,
    refusedConnects: 0,
    refused: [],
    errors: {},
    sent: [],
    misbehaved: [],
    rawIdentifiers: [],
    hiddenForms: [],
  };
  const count = (key: string): void => {
    report.errors[key] = (report.errors[key] ?? 0) + 1;
  };
  const hidden: string[] = [];
  const baseIds = opts.identifiers ?? createIdentifierSource(createRng(`${seed}:ids`));
  const ownIds = deviceIdentifiers(opts.devices);
  baseIds.reserve(ownIds);

  const wrongPassword = pickIndices(
    createRng(`${seed}:wrong-password`),
    opts.devices.length,
    mis.wrongPassword ?? 0,
  );
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();

  // Connect phase.
  const running: Running[] = [];
  await mapLimit(opts.devices, opts.connectConcurrency ?? 32, async (device, i) => {
    if (stop.signal.aborted) return;
    const rng = createRng(`${seed}:${device.login}`);
    const clientId = `d-${rng.hex(16)}`;
    const outcome = await connectDevice({
      mqttUrl: opts.mqttUrl,
      login: device.login,
      password: wrongPassword.has(i) ? `${device.secret}-wrong` : device.secret,
      clientId,
      onError: count,
      signal: stop.signal,
      ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
    });
    if (outcome.ok) {
      outcome.client.on('close', () => count('connection_closed'));
      const ids = baseIds.withRng(rng.fork('ids'));
      const topic = `skjold/d/${device.login}/telemetry`;
      running.push({ device, client: outcome.client, rng, state: modelState(device), ids, topic, n: 0 });
    } else if (outcome.refused) {
      report.refusedConnects++;
      report.refused.push(device.login);
    } else if (outcome.reason !== 'aborted') {
      count(outcome.reason);
    }
  });

  // Publish phase.
  let inflight = 0;
  let finished = false;
  let drained: (() => void) | undefined;
  const settleOne = (): void => {
    inflight--;
    if (inflight === 0) drained?.();
  };
  let active = running.length;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const deviceDone = (r: Running): void => {
    clearTimeout(r.timer);
    r.timer = undefined;
    if (--active === 0) allDone();
  };
  if (active === 0) allDone();

  const tick = (r: Running): void => {
    r.timer = undefined;
    if (stop.signal.aborted) return;
    const seq = firstSeq + r.n;
    const time =
      opts.timeStepMs === undefined ? startMs + (Date.now() - publishStart) : startMs + r.n * opts.timeStepMs;
    r.n++;
    publishOne(r, seq, time);
    if (opts.messagesPerDevice !== undefined && r.n >= opts.messagesPerDevice) deviceDone(r);
    else r.timer = setTimeout(tick, intervalMs * (0.8 + 0.4 * r.rng.next()), r);
  };

  const publishOne = (r: Running, seq: number, time: number): void => {
    const { device } = r;
    const msg = nextMessage(device, r.state, time, seq, r.rng, r.ids, mis);
    report.published++;
    if (msg.type === 'misbehaved') {
      const { kind, variant } = msg;
      report.misbehaved.push(
        variant === undefined
          ? { login: device.login, seq, kind }
          : { login: device.login, seq, kind, variant },
      );
      r.client.publish(r.topic, msg.body, { qos: 0 }, (err) => {
        if (err && !finished) count(`publish_${errorKey(err)}`);
      });
      return;
    }
    if (msg.hidden) {
      hidden.push(...msg.hidden.identifiers);
      report.hiddenForms.push(...msg.hidden.written);
    }
    const { payload } = msg;
    if (qos === 1) inflight++;
    r.client.publish(r.topic, msg.body, { qos }, (err) => {
      if (finished) return;
      if (qos === 1) settleOne();
      if (err) return count(`publish_${errorKey(err)}`);
      report.acked++;
      const { login, kind, tenantId } = device;
      report.sent.push({ login, kind, tenantId, seq, ts: payload.ts, payload });
    });
  };

  const publishStart = Date.now();
  if (opts.messagesPerDevice === 0) allDone();
  else for (const r of running) r.timer = setTimeout(tick, intervalMs * r.rng.next(), r);
  const duration =
    opts.durationMs === undefined ? undefined : setTimeout(() => stop.abort(), opts.durationMs);
  await Promise.race([done, aborted(stop.signal)]);
  clearTimeout(duration);
  stop.abort();
  for (const r of running) clearTimeout(r.timer);

  // Drain: wait for outstanding PUBACKs, with a deadline.
  if (inflight > 0) {
    const wait = drainWait(opts.drainTimeoutMs ?? 10_000);
    drained = wait.drained;
    await wait.done;
  }
  report.unacked = inflight;
  finished = true;
  await Promise.all(running.map((r) => endClient(r.client, inflight > 0)));
  opts.signal?.removeEventListener('abort', onAbort);

  report.rawIdentifiers = [...new Set([...ownIds, ...hidden])];
  return report;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

async function endClient(client: MqttClient, force: boolean): Promise<void> {
  client.removeAllListeners('close');
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
  await Promise.race([client.endAsync(force).catch(() => {}), timeout]);
  if (!client.disconnected) client.end(true);
}

/** `k` distinct indices out of `n`, chosen by `rng` (partial Fisher–Yates). */
function pickIndices(rng: Rng, n: number, k: number): Set<number> {
  const idx = Array.from({ length: n }, (_, i) => i);
  const out = new Set<number>();
  for (let i = 0; i < Math.min(k, n); i++) {
    const j = rng.int(i, n - 1);
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
    out.add(idx[i] as number);
  }
  return out;
}

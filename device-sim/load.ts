/**
 * Load generator for benchmarks: a fixed total message rate spread over the
 * fleet's connections, paced in ~10 ms ticks. Per message it only concatenates
 * a pre-built JSON template with a timestamp (shared by the tick) and a
 * sequence number; acknowledgements go to one callback per device, so the hot
 * path allocates no closures.
 */
import type { MqttClient } from 'mqtt';
import { connectDevice } from './connect-device.ts';
import type { SimDevice } from './fleet.ts';
import { mapLimit } from './map-limit.ts';
import { modelState } from './models.ts';
import { reading } from './payloads.ts';
import { createRng } from './random.ts';

export interface RunLoadOptions {
  mqttUrl: string;
  devices: SimDevice[];
  /** Messages per second across the whole fleet. */
  totalRate: number;
  durationMs: number;
  qos: 0 | 1;
  /** Record when each message was published (costs memory: one map entry per message). */
  recordSendTimes?: boolean;
  /** QoS 1 messages awaiting PUBACK across the fleet before the generator holds back (default 10 000). */
  maxInflight?: number;
  /** Tick length in ms (default 10). */
  tickMs?: number;
  /** Device clock at the start (default now; then it follows real time). */
  startTime?: Date;
  firstSeq?: number;
  seed?: number | string;
  connectConcurrency?: number;
  drainTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface LoadReport {
  published: number;
  /** PUBACKs received (QoS 1); messages written to the socket (QoS 0). */
  acked: number;
  unacked: number;
  /** Ticks in which the generator held back because `maxInflight` was reached. */
  throttledTicks: number;
  connected: number;
  errors: Record<string, number>;
  /** Epoch ms. */
  firstPublishAt: number | null;
  lastAckAt: number | null;
  /** Acknowledgements per second since the first publish. */
  perSecond: number[];
  /** Epoch ms of each publish, keyed `${login}:${seq}` (only with `recordSendTimes`). */
  sendTimes?: Map<string, number>;
}

interface Slot {
  login: string;
  client: MqttClient;
  topic: string;
  seq: number;
  /** JSON of a reading after its `seq`: `,"energy_kwh":…}`; a few variants rotated. */
  tails: string[];
  onAck: (err?: Error) => void;
}

const TEMPLATE_VARIANTS = 4;

export async function runLoad(opts: RunLoadOptions): Promise<LoadReport> {
  if (!(opts.totalRate > 0)) throw new RangeError('totalRate must be > 0');
  const tickMs = opts.tickMs ?? 10;
  const maxInflight = opts.maxInflight ?? 10_000;
  const startMs = (opts.startTime ?? new Date()).getTime();
  const seed = opts.seed ?? 1;
  const report: LoadReport = {
    published: 0,
    acked: 0,
    unacked: 0,
    throttledTicks: 0,
    connected: 0,
    errors: {},
    firstPublishAt: null,
    lastAckAt: null,
    perSecond: [],
  };
  if (opts.recordSendTimes) report.sendTimes = new Map();
  const count = (key: string): void => {
    report.errors[key] = (report.errors[key] ?? 0) + 1;
  };

  let inflight = 0;
  let finished = false;
  let drained: (() => void) | undefined;
  const acked = (): void => {
    const now = Date.now();
    report.acked++;
    report.lastAckAt = now;
    const second = Math.floor((now - (report.firstPublishAt ?? now)) / 1000);
    report.perSecond[second] = (report.perSecond[second] ?? 0) + 1;
  };

  const slots: Slot[] = [];
  await mapLimit(opts.devices, opts.connectConcurrency ?? 32, async (device) => {
    if (opts.signal?.aborted) return;
    const rng = createRng(`${seed}:${device.login}`);
    const outcome = await connectDevice({
      mqttUrl: opts.mqttUrl,
      login: device.login,
      password: device.secret,
      clientId: `d-${rng.hex(16)}`,
      onError: count,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (!outcome.ok) return count(outcome.reason);
    const state = modelState(device);
    const tails: string[] = [];
    for (let v = 0; v < TEMPLATE_VARIANTS; v++) {
      const { ts: _ts, seq: _seq, ...values } = reading(device, state, startMs + v * 3_600_000, 0);
      tails.push(`,${JSON.stringify(values).slice(1)}`);
    }
    const onAck = (err?: Error): void => {
      if (finished) return;
      if (opts.qos === 1 && --inflight === 0) drained?.();
      if (err) count('publish_error');
      else acked();
    };
    const topic = `skjold/d/${device.login}/telemetry`;
    slots.push({ login: device.login, client: outcome.client, topic, seq: opts.firstSeq ?? 0, tails, onAck });
  });
  report.connected = slots.length;

  if (slots.length > 0 && !opts.signal?.aborted) {
    await pace(opts, slots, tickMs, startMs, {
      publishOne: (slot, ts) => {
        const seq = slot.seq++;
        const body = `{"ts":"${ts}","seq":${seq}${slot.tails[seq % TEMPLATE_VARIANTS]}`;
        if (opts.qos === 1) inflight++;
        const now = Date.now();
        report.firstPublishAt ??= now;
        report.sendTimes?.set(`${slot.login}:${seq}`, now);
        report.published++;
        slot.client.publish(slot.topic, body, { qos: opts.qos }, slot.onAck);
      },
      canPublish: () => opts.qos === 0 || inflight < maxInflight,
      throttled: () => report.throttledTicks++,
    });
  }

  if (inflight > 0) {
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, opts.drainTimeoutMs ?? 10_000);
      drained = () => {
        clearTimeout(deadline);
        resolve();
      };
    });
  }
  report.unacked = inflight;
  finished = true;
  const force = inflight > 0;
  await mapLimit(slots, 64, (s) =>
    Promise.race([
      s.client.endAsync(force).catch(() => {}),
      new Promise((r) => setTimeout(r, 2_000).unref()),
    ]),
  );
  for (const s of slots) if (!s.client.disconnected) s.client.end(true);
  return report;
}

interface PaceHooks {
  publishOne: (slot: Slot, ts: string) => void;
  canPublish: () => boolean;
  throttled: () => void;
}

/** Publish `totalRate` msg/s for `durationMs`, round-robin over slots, one timer tick at a time. */
function pace(
  opts: RunLoadOptions,
  slots: Slot[],
  tickMs: number,
  startMs: number,
  hooks: PaceHooks,
): Promise<void> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let due = 0; // messages that should have been published by now
    let sent = 0;
    let next = 0; // round-robin cursor
    const maxBurst = Math.max(1, Math.ceil(opts.totalRate)); // never catch up more than one second's worth at once
    const finish = (): void => {
      clearInterval(timer);
      opts.signal?.removeEventListener('abort', finish);
      resolve();
    };
    const tick = (): void => {
      const elapsed = Date.now() - t0;
      if (elapsed >= opts.durationMs) {
        finish();
        return;
      }
      due = Math.floor((opts.totalRate * elapsed) / 1000);
      if (due - sent > maxBurst) sent = due - maxBurst;
      const ts = new Date(startMs + elapsed).toISOString(); // one timestamp per tick
      while (sent < due) {
        if (!hooks.canPublish()) {
          hooks.throttled();
          break;
        }
        const slot = slots[next] as Slot;
        next = next + 1 === slots.length ? 0 : next + 1;
        hooks.publishOne(slot, ts);
        sent++;
      }
    };
    const timer = setInterval(tick, tickMs);
    opts.signal?.addEventListener('abort', finish, { once: true });
    tick();
  });
}

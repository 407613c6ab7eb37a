/**
 * Load generator for benchmarks: a fixed total message rate spread over the
 * fleet's connections, paced in ~10 ms ticks. Per message it only concatenates
 * a pre-built JSON template with a timestamp (shared by the tick) and a
 * sequence number, and writes the PUBLISH packet to the device's socket itself
 * (mqtt.js connects, keeps the session alive and parses what comes back, but
 * holds no copy to resend: a message whose connection drops before its PUBACK
 * stays unacknowledged, and one due while its device is offline is counted
 * as `not_connected` and not sent); PUBACKs are read off the socket
 * (puback-reader.ts) and go to one callback per device, so the hot path
 * allocates no closures. Send times are kept only for the logins asked
 * for, in a map per device keyed by seq (no key strings), and `progress()`
 * hands them over while the load runs, so a run of any length stays flat.
 */
import type { MqttClient } from 'mqtt';
import { connectDevice } from './connect-device.ts';
import { drainWait } from './drain-wait.ts';
import type { SimDevice } from './fleet.ts';
import { mapLimit } from './map-limit.ts';
import { modelState } from './models.ts';
import { reading } from './payloads.ts';
import { readPubacks } from './puback-reader.ts';
import { createRng } from './random.ts';

export interface RunLoadOptions {
  mqttUrl: string;
  devices: SimDevice[];
  /** Messages per second across the whole fleet. */
  totalRate: number;
  durationMs: number;
  qos: 0 | 1;
  /** Record when each message of every device was published (one map entry per message: short runs only). */
  recordSendTimes?: boolean;
  /**
   * Record when each message of these logins was published. Memory grows with their share of the
   * traffic only, and `progress()` hands the times over and forgets them: a long run stays flat.
   */
  recordSendTimesFor?: ReadonlySet<string>;
  /** QoS 1 messages awaiting PUBACK across the fleet before the generator holds back (default 10 000). */
  maxInflight?: number;
  /** Tick length in ms (default 10). */
  tickMs?: number;
  /** Device clock when publishing starts (default: the real time then; it follows real time after). */
  startTime?: Date;
  firstSeq?: number;
  seed?: number | string;
  connectConcurrency?: number;
  drainTimeoutMs?: number;
  signal?: AbortSignal;
  /** Called with every message as it is published (a benchmark counts timestamp collisions). */
  onPublish?: (login: string, body: string) => void;
}

/** Per recorded login: seq → epoch ms of its publish. */
export type SendTimes = Map<string, Map<number, number>>;

export interface LoadReport {
  published: number;
  /** PUBACKs received (QoS 1); messages written to the socket (QoS 0). */
  acked: number;
  unacked: number;
  /** Ticks in which the generator held back because `maxInflight` was reached. */
  throttledTicks: number;
  /** Devices that connected at the start. */
  connected: number;
  errors: Record<string, number>;
  /** Epoch ms. */
  firstPublishAt: number | null;
  lastAckAt: number | null;
  /** Acknowledgements per second since the first publish. */
  perSecond: number[];
  /**
   * With `recordSendTimes` or `recordSendTimesFor`: the send times not already handed over by
   * `progress()` (all of them when it was never called).
   */
  sendTimes?: SendTimes;
}

/** The load so far, read while it runs. */
export interface LoadProgress {
  /** Epoch ms of this reading. */
  at: number;
  /**
   * Device clock at this reading: every message published before it carries an earlier or equal
   * timestamp, every later one this or a later one (ticks are never split by a reading).
   */
  deviceTime: number;
  published: number;
  acked: number;
  /** Published and not yet acknowledged (QoS 1). */
  unacked: number;
  throttledTicks: number;
  /** Devices that connected at the start. */
  connected: number;
  /** Devices connected now; once publishing has stopped, those connected when it stopped. */
  online: number;
  errors: Record<string, number>;
  firstPublishAt: number | null;
  lastAckAt: number | null;
  /** Send times recorded since the previous reading; handed over once and forgotten here. */
  sendTimes: SendTimes;
}

export interface LoadStartedAt {
  /** Epoch ms when publishing began. */
  at: number;
  /** Device clock then: every point of the load is stamped at or after it. */
  deviceTime: number;
  /** Devices that connected. */
  connected: number;
}

export interface LoadRun {
  /**
   * Resolves once the fleet is connected and publishing has begun (or the load ended without),
   * with how many devices connected: read here, not from `progress()`, which hands send times over.
   */
  started: Promise<LoadStartedAt>;
  progress(): LoadProgress;
  done: Promise<LoadReport>;
}

interface Slot {
  login: string;
  client: MqttClient;
  /** The telemetry topic's bytes, as a PUBLISH carries them. */
  topic: Buffer;
  seq: number;
  /** The packet identifier of this device's last QoS 1 PUBLISH (1–65535, then round again). */
  messageId: number;
  /** JSON of a reading after its `seq`: `,"energy_kwh":…}`; a few variants rotated. */
  tails: string[];
  onAck: () => void;
  /** seq → publish time since the last hand-over, for recorded logins; null for the rest. */
  sendTimes: Map<number, number> | null;
}

const TEMPLATE_VARIANTS = 4;

export function runLoad(opts: RunLoadOptions): Promise<LoadReport> {
  try {
    return startLoad(opts).done;
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Starts the load and returns at once: read it with `progress()` while it runs, await `done` for the report. */
export function startLoad(opts: RunLoadOptions): LoadRun {
  if (!(opts.totalRate > 0)) throw new RangeError('totalRate must be > 0');
  const tickMs = opts.tickMs ?? 10;
  const maxInflight = opts.maxInflight ?? 10_000;
  // The readings' values are shaped by the time of day; the device clock itself starts with publishing.
  const templateMs = (opts.startTime ?? new Date()).getTime();
  const seed = opts.seed ?? 1;
  const recordAll = opts.recordSendTimes === true;
  const recordSome = opts.recordSendTimesFor;
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
  const recorded: Slot[] = [];
  const countOnline = (): number => {
    let online = 0;
    for (const s of slots) if (s.client.connected) online++;
    return online;
  };
  let onlineAtStop: number | undefined;
  // Set when publishing starts: device time = clock.startMs + (now − clock.t0).
  let clock: { t0: number; startMs: number } | undefined;
  const takeSendTimes = (): SendTimes => {
    const taken: SendTimes = new Map();
    for (const slot of recorded) {
      taken.set(slot.login, slot.sendTimes as Map<number, number>);
      slot.sendTimes = new Map();
    }
    return taken;
  };

  let markStarted: (at: LoadStartedAt) => void = () => {};
  const started = new Promise<LoadStartedAt>((resolve) => {
    markStarted = resolve;
  });

  const run = async (): Promise<LoadReport> => {
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
        const { ts: _ts, seq: _seq, ...values } = reading(device, state, templateMs + v * 3_600_000, 0);
        tails.push(`,${JSON.stringify(values).slice(1)}`);
      }
      const onAck = (): void => {
        if (finished) return;
        if (opts.qos === 1 && --inflight === 0) drained?.();
        acked();
      };
      const topic = Buffer.from(`skjold/d/${device.login}/telemetry`);
      const record = recordAll || recordSome?.has(device.login) === true;
      const slot: Slot = {
        login: device.login,
        client: outcome.client,
        topic,
        seq: opts.firstSeq ?? 0,
        messageId: 0,
        tails,
        onAck,
        sendTimes: record ? new Map() : null,
      };
      // The generator writes its PUBLISHes itself (below), so mqtt.js holds no
      // record of them and would pass over their PUBACKs; they are counted here.
      if (!readPubacks(outcome.client, onAck)) {
        outcome.client.on('packetreceive', (packet) => {
          if (packet.cmd === 'puback') onAck();
        });
      }
      slots.push(slot);
      if (record) recorded.push(slot);
    });
    report.connected = slots.length;

    const t0 = Date.now();
    clock = { t0, startMs: opts.startTime?.getTime() ?? t0 };
    markStarted({ at: t0, deviceTime: clock.startMs, connected: slots.length });
    if (slots.length > 0 && !opts.signal?.aborted) {
      await pace(opts, slots, tickMs, clock, {
        publishOne: (slot, ts) => {
          if (!slot.client.connected) {
            count('not_connected'); // not published: mqtt.js would have queued it for the reconnect
            return;
          }
          const seq = slot.seq++;
          const body = `{"ts":"${ts}","seq":${seq}${slot.tails[seq % TEMPLATE_VARIANTS]}`;
          slot.messageId = slot.messageId === 0xffff ? 1 : slot.messageId + 1;
          const packet = publishPacket(slot.topic, opts.qos, slot.messageId, body);
          if (opts.qos === 1) inflight++;
          const now = Date.now();
          report.firstPublishAt ??= now;
          if (slot.sendTimes !== null) slot.sendTimes.set(seq, now);
          report.published++;
          opts.onPublish?.(slot.login, body);
          slot.client.stream.write(packet);
          if (opts.qos === 0) slot.onAck();
        },
        canPublish: () => opts.qos === 0 || inflight < maxInflight,
        throttled: () => report.throttledTicks++,
      });
    }
    onlineAtStop = countOnline();

    if (inflight > 0) {
      const wait = drainWait(opts.drainTimeoutMs ?? 10_000);
      drained = wait.drained;
      await wait.done;
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
    if (recordAll || recordSome) report.sendTimes = takeSendTimes();
    return report;
  };

  const done = run();
  // A load that failed before publishing still counts as started, so nobody waits on it forever.
  const ended = () =>
    markStarted({ at: Date.now(), deviceTime: clock?.startMs ?? Date.now(), connected: slots.length });
  done.then(ended, ended);
  return {
    started,
    done,
    progress() {
      const at = Date.now();
      return {
        at,
        deviceTime: clock ? clock.startMs + (at - clock.t0) : at,
        published: report.published,
        acked: report.acked,
        unacked: finished ? report.unacked : inflight,
        throttledTicks: report.throttledTicks,
        connected: slots.length,
        online: onlineAtStop ?? countOnline(),
        errors: { ...report.errors },
        firstPublishAt: report.firstPublishAt,
        lastAckAt: report.lastAckAt,
        sendTimes: takeSendTimes(),
      };
    },
  };
}

/**
 * An MQTT 3.1.1 PUBLISH (no DUP, no retain), encoded in one buffer: the bytes
 * mqtt.js would write, without its per-message bookkeeping, which cost the
 * generator more CPU than Skjold spent on each message.
 */
export function publishPacket(topic: Buffer, qos: 0 | 1, messageId: number, body: string): Buffer {
  const remaining = 2 + topic.length + (qos === 1 ? 2 : 0) + Buffer.byteLength(body);
  let lengthBytes = 1;
  while (remaining >= 128 ** lengthBytes) lengthBytes++;
  const packet = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  packet[0] = qos === 1 ? 0x32 : 0x30;
  let at = 1;
  // [MQTT-2.2.3] Remaining Length: seven bits per byte, the high bit set while more follow.
  for (let rest = remaining; ; ) {
    const digit = rest % 128;
    rest = Math.floor(rest / 128);
    packet[at++] = rest > 0 ? digit | 0x80 : digit;
    if (rest === 0) break;
  }
  at = packet.writeUInt16BE(topic.length, at);
  at += topic.copy(packet, at);
  if (qos === 1) at = packet.writeUInt16BE(messageId, at);
  packet.write(body, at);
  return packet;
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
  clock: { t0: number; startMs: number },
  hooks: PaceHooks,
): Promise<void> {
  const { t0, startMs } = clock;
  return new Promise((resolve) => {
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

/**
 * Devices that each publish a numbered stream at QoS 1 and remember which
 * numbers the broker acknowledged (the PUBACK callback): what the "nothing
 * acknowledged is lost" tests count against the store. Clients reconnect by
 * themselves (mqtt.js resends unacknowledged QoS 1 messages on reconnect), and
 * each device keeps at most `window` messages unacknowledged, as a device with
 * a small outbox would.
 */
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { connectDevice as connectSimDevice } from '../../device-sim/connect-device.ts';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { rows } from '../harness/influx-rows.ts';
import { eventually, type TestDevice, validReading } from './devices.ts';

export interface SeqStream {
  device: TestDevice;
  client: MqttClient;
  /** Sequence numbers published so far: 0 … published - 1. */
  published: number;
  acked: Set<number>;
}

export interface SeqPublisher {
  streams: SeqStream[];
  acked(): number;
  published(): number;
  /** Stops publishing new numbers (those in flight still get their PUBACK). */
  pause(): void;
  resume(): void;
  /** Stops publishing and waits until every published number was acknowledged. */
  finish(timeoutMs?: number): Promise<void>;
  end(): Promise<void>;
}

/** Connects `devices` with automatic reconnect. */
export async function connectReconnecting(mqttUrl: string, devices: TestDevice[]): Promise<MqttClient[]> {
  return Promise.all(
    devices.map(async (d, i) => {
      const outcome = await connectSimDevice({
        mqttUrl,
        login: d.login,
        password: d.secret,
        clientId: `seq-${i}-${d.id.slice(0, 8)}`,
        reconnectPeriodMs: 200,
        onError: () => {},
      });
      if (!outcome.ok) throw new Error(`device ${i} could not connect: ${outcome.reason}`);
      return outcome.client;
    }),
  );
}

/** Device time of message `seq`: unique per device, inside the accepted clock skew. */
export const seqTime = (t0: number, seq: number) => t0 + seq * 10;

export function publishSequences(
  devices: TestDevice[],
  clients: MqttClient[],
  options: { ratePerDevice: number; window: number; t0: number },
): SeqPublisher {
  const streams: SeqStream[] = devices.map((device, i) => ({
    device,
    client: clients[i] as MqttClient,
    published: 0,
    acked: new Set(),
  }));
  let running = true;
  const tick = () => {
    if (!running) return;
    for (const s of streams) {
      if (s.published - s.acked.size >= options.window) continue;
      const seq = s.published++;
      const body = JSON.stringify(validReading(s.device, seq, seqTime(options.t0, seq)));
      s.client.publish(s.device.telemetry, body, { qos: 1 }, (err) => {
        if (!err) s.acked.add(seq);
      });
    }
  };
  let timer = setInterval(tick, 1000 / options.ratePerDevice);
  const sum = (f: (s: SeqStream) => number) => streams.reduce((n, s) => n + f(s), 0);
  return {
    streams,
    acked: () => sum((s) => s.acked.size),
    published: () => sum((s) => s.published),
    pause() {
      running = false;
      clearInterval(timer);
    },
    resume() {
      running = true;
      clearInterval(timer);
      timer = setInterval(tick, 1000 / options.ratePerDevice);
    },
    async finish(timeoutMs = 60_000) {
      this.pause();
      await eventually(
        'every published message acknowledged',
        () => this.acked() === this.published(),
        timeoutMs,
      );
    },
    async end() {
      this.pause();
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}

/**
 * Every acknowledged number of every stream is in the store, and the store
 * holds each number once. Returns how many points were checked.
 */
export async function assertAllAckedStored(store: TelemetryStore, streams: SeqStream[]): Promise<number> {
  let checked = 0;
  for (const s of streams) {
    const stored = await rows(
      store,
      s.device.tenantId,
      `SELECT seq FROM ${s.device.kind} WHERE device = '${s.device.pseudonym}'`,
    );
    const seqs = stored.map((r) => Number(r.seq));
    const unique = new Set(seqs);
    assert.equal(unique.size, seqs.length, `device ${s.device.id}: each message stored once`);
    const lost = [...s.acked].filter((n) => !unique.has(n));
    assert.deepEqual(lost, [], `device ${s.device.id}: acknowledged but not stored`);
    checked += s.acked.size;
  }
  return checked;
}

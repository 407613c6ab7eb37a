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
 * holds nothing that was never published. Returns how many acknowledged
 * numbers were checked.
 *
 * Why rows cannot show a duplicate: InfluxDB identifies a point by
 * measurement, tags and timestamp, and each number has its own device time,
 * so a message written twice overwrites itself and reads back as one row.
 * What survives the overwrite is the store writer's count of points InfluxDB
 * accepted (skjold_store_points_written_total, once per accepted write): pass
 * it over the run as `written` and it must equal the distinct numbers stored —
 * each extra is a message written again. Leave it out only where writing again
 * is the designed behaviour (a spool replayed after a crash).
 */
export async function assertAllAckedStored(
  store: TelemetryStore,
  streams: SeqStream[],
  written?: number,
): Promise<number> {
  let checked = 0;
  let distinct = 0;
  for (const s of streams) {
    const stored = await rows(
      store,
      s.device.tenantId,
      `SELECT seq FROM ${s.device.kind} WHERE device = '${s.device.pseudonym}'`,
    );
    const seqs = new Set(stored.map((r) => Number(r.seq)));
    const lost = [...s.acked].filter((n) => !seqs.has(n));
    assert.deepEqual(lost, [], `device ${s.device.id}: acknowledged but not stored`);
    const strays = [...seqs].filter((n) => !(Number.isInteger(n) && n >= 0 && n < s.published));
    assert.deepEqual(strays, [], `device ${s.device.id}: stored but never published`);
    checked += s.acked.size;
    distinct += seqs.size;
  }
  if (written !== undefined) {
    assert.equal(written, distinct, `points written ${written} for ${distinct} distinct messages: each once`);
  }
  return checked;
}

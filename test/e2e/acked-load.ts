/**
 * Load for delivery tests: every device publishes readings with increasing
 * `seq` at QoS 1, one at a time, and remembers which ones it saw acknowledged.
 * A publish that fails (no PUBACK: the connection closed, a deadline passed)
 * is sent again on a fresh connection, as a real device would. At the end the
 * test checks that every acknowledged reading is in InfluxDB.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { rows } from '../harness/influx-rows.ts';
import { connectDevice, type TestDevice, validReading, withDeadline } from './devices.ts';

export interface AckedLoad {
  /** Acknowledged readings so far, all devices. */
  acked(): number;
  /** Publishes that got no PUBACK and were sent again. */
  resends(): number;
  /** Resolves once every device has at least `n` more acknowledged readings than now. */
  progress(n: number, timeoutMs?: number): Promise<void>;
  /** Stops publishing (waits for each device's publish in flight to settle). */
  stop(): Promise<void>;
  /** Fails unless every acknowledged reading is stored (duplicates of one are one row). */
  assertAllStored(store: TelemetryStore): Promise<{ acked: number; stored: number }>;
}

export function startAckedLoad(
  mqttUrl: string,
  devices: readonly TestDevice[],
  options: {
    t0: number;
    publishTimeoutMs?: number;
    /** A device waits this long after each acknowledged reading: its reporting interval (default: none). */
    intervalMs?: number;
  },
): AckedLoad {
  const ackedSeqs = new Map<TestDevice, number[]>(devices.map((d) => [d, []]));
  let running = true;
  let resends = 0;
  const clients = new Set<MqttClient>();

  async function runDevice(device: TestDevice): Promise<void> {
    const acked = ackedSeqs.get(device) ?? [];
    let client: MqttClient | undefined;
    for (let seq = 0; running; ) {
      try {
        if (!client || client.disconnected) {
          if (client) clients.delete(client);
          client = await connectDevice(mqttUrl, device);
          clients.add(client);
        }
        const body = JSON.stringify(validReading(device, seq, options.t0 + seq));
        await withDeadline(
          client.publishAsync(device.telemetry, body, { qos: 1 }),
          options.publishTimeoutMs ?? 60_000,
          'PUBACK',
        );
        acked.push(seq);
        seq++;
        if (options.intervalMs) await delay(options.intervalMs);
      } catch {
        resends++;
        client?.end(true);
        client = undefined;
        await delay(50);
      }
    }
    if (client) await client.endAsync().catch(() => undefined);
  }

  const runs = devices.map((d) => runDevice(d));
  const total = () => [...ackedSeqs.values()].reduce((n, s) => n + s.length, 0);

  return {
    acked: total,
    resends: () => resends,
    async progress(n, timeoutMs = 60_000) {
      const start = new Map([...ackedSeqs].map(([d, s]) => [d, s.length]));
      const deadline = Date.now() + timeoutMs;
      while ([...ackedSeqs].some(([d, s]) => s.length < (start.get(d) ?? 0) + n)) {
        if (Date.now() > deadline)
          throw new Error(`load: not ${n} more acknowledged per device in ${timeoutMs} ms`);
        await delay(25);
      }
    },
    async stop() {
      running = false;
      await Promise.all(runs);
      await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => undefined)));
    },
    async assertAllStored(store) {
      let ackedCount = 0;
      let storedCount = 0;
      for (const [device, seqs] of ackedSeqs) {
        const stored = await rows(
          store,
          device.tenantId,
          `SELECT seq FROM ${device.kind} WHERE device = '${device.pseudonym}'`,
        );
        const have = new Set(stored.map((r) => Number(r.seq)));
        const missing = seqs.filter((s) => !have.has(s));
        assert.deepEqual(
          missing.slice(0, 20),
          [],
          `${device.kind} ${device.pseudonym}: acknowledged, not stored`,
        );
        ackedCount += seqs.length;
        storedCount += have.size;
      }
      return { acked: ackedCount, stored: storedCount };
    },
  };
}

/**
 * Phase B's consumer: one MQTT client subscribed to every device's telemetry
 * at QoS 1 (so the broker forwards at QoS 1 and waits for its PUBACKs), the
 * role ingest plays inside Skjold. Counts what arrives and when.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { serveIpc } from './ipc.ts';

let client: MqttClient | undefined;
let received = 0;
let firstAt = 0;
let lastAt = 0;

async function start(args: { mqttUrl: string }): Promise<void> {
  client = await connectAsync(args.mqttUrl, {
    clientId: 'bench-subscriber',
    clean: true,
    protocolVersion: 4,
  });
  client.on('message', () => {
    const now = Date.now();
    if (received++ === 0) firstAt = now;
    lastAt = now;
  });
  await client.subscribeAsync('skjold/d/+/telemetry', { qos: 1 });
}

/** Counts so far. */
function peek(): { received: number; firstAt: number; lastAt: number } {
  return { received, firstAt, lastAt };
}

/** Counts since the last call, then resets them. */
function take(): { received: number; firstAt: number; lastAt: number } {
  const out = { received, firstAt, lastAt };
  received = 0;
  firstAt = 0;
  lastAt = 0;
  return out;
}

async function stop(): Promise<void> {
  // Forced: with the broker gone (it can crash when flooded) a graceful end would wait forever.
  await client?.endAsync(true);
}

serveIpc({ start, peek, take, stop });

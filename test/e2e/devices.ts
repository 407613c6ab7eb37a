/**
 * Hand-made devices for end-to-end tests: tenants and devices registered
 * through the API (as an operator would), MQTT clients that connect as them,
 * and waiting helpers that poll a condition with a deadline.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import { commandTopic, telemetryTopic } from '../../broker/topics.ts';
import type { ApiClient } from '../../cli/api-client.ts';
import { contractIdFor } from '../../device-sim/fleet.ts';
import { createIdentifierSource, type IdentifierSource } from '../../device-sim/identifiers.ts';
import { modelState } from '../../device-sim/models.ts';
import { type Reading, reading } from '../../device-sim/payloads.ts';
import { createRng } from '../../device-sim/random.ts';
import type { DeviceIdentifiers } from '../../device-sim/registrar.ts';
import { DEVICE_KINDS, type DeviceKind } from '../../lib/device-kinds.ts';
import { waitUntil } from '../../lib/process/server-process.ts';

export interface TestDevice {
  tenantId: string;
  kind: DeviceKind;
  /** Registry device id. */
  id: string;
  /** MQTT username: ICCID, wM-Bus id or serial. */
  login: string;
  secret: string;
  /** Pseudonym of the login under the tenant's key at registration. */
  pseudonym: string;
  identifiers: DeviceIdentifiers;
  telemetry: string;
  commands: string;
}

/** A source of valid, unique identifiers (what the simulator uses). */
export function identifierSource(seed: string): IdentifierSource {
  return createIdentifierSource(createRng(seed));
}

/** A tenant with one contract per device kind (ids as the simulator names them). */
export async function addTenant(api: ApiClient, tenantId: string): Promise<void> {
  await api.createTenant({ id: tenantId, name: `Tenant ${tenantId}` });
  for (const kind of DEVICE_KINDS) {
    await api.createContract(tenantId, {
      id: contractIdFor(tenantId, kind),
      role: 'processor',
      purpose: `${kind} telemetry`,
      legalBasis: 'contract',
      startsOn: '2024-01-01',
      endsOn: null,
      jurisdiction: 'DK',
    });
  }
}

/** Registers a tenant and `count` devices taking turns over `kinds`, with identifiers seeded by the tenant id. */
export async function addTenantFleet(
  api: ApiClient,
  tenantId: string,
  count: number,
  kinds: readonly DeviceKind[] = DEVICE_KINDS,
): Promise<TestDevice[]> {
  await addTenant(api, tenantId);
  const ids = identifierSource(tenantId);
  const devices: TestDevice[] = [];
  for (let i = 0; i < count; i++)
    devices.push(await addDevice(api, ids, tenantId, kinds[i % kinds.length] ?? 'sim_unit'));
  return devices;
}

/** Registers a device of `kind` with fresh identifiers from `ids`, under the kind's contract or `contractId`. */
export async function addDevice(
  api: ApiClient,
  ids: IdentifierSource,
  tenantId: string,
  kind: DeviceKind,
  contractId: string = contractIdFor(tenantId, kind),
): Promise<TestDevice> {
  const identifiers: DeviceIdentifiers =
    kind === 'sim_unit'
      ? ids.simIdentifiers('DK')
      : kind === 'heat_meter'
        ? { wmbus: ids.wmbus() }
        : { serial: ids.serial() };
  const login =
    (kind === 'sim_unit'
      ? identifiers.iccid
      : kind === 'heat_meter'
        ? identifiers.wmbus
        : identifiers.serial) ?? '';
  const secret = randomBytes(16).toString('hex');
  const res = await api.addDevice(tenantId, {
    kind,
    contractId,
    identifiers,
    secret,
  });
  return {
    tenantId,
    kind,
    id: res.id,
    login,
    secret,
    pseudonym: res.pseudonym,
    identifiers,
    telemetry: telemetryTopic(login),
    commands: commandTopic(login),
  };
}

/**
 * Connects with MQTT 3.1.1 and no automatic reconnect. Rejects on a refused
 * CONNACK (the error's `code` is the return code) or when the connection
 * closes before one arrives.
 */
export function connectAs(
  mqttUrl: string,
  username: string | undefined,
  password: string | undefined,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(
    mqttUrl,
    {
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      clientId: `t-${randomBytes(8).toString('hex')}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...extra,
    },
    false,
  );
}

/**
 * `connectAs` over plain TCP from another local address (loopback is all of
 * 127.0.0.0/8), so the broker sees a second source address; mqtt.js has no
 * option for it, so the socket is built here.
 */
export function connectAsFrom(
  localAddress: string,
  mqttUrl: string,
  username: string,
  password: string,
): Promise<MqttClient> {
  const { hostname, port } = new URL(mqttUrl);
  const client = new MqttClient(
    () => net.createConnection({ host: hostname, port: Number(port), localAddress }),
    {
      username,
      password,
      clientId: `t-${randomBytes(8).toString('hex')}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    },
  );
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('connect', () => resolve(client));
    client.once('error', fail);
    client.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

export function connectDevice(
  mqttUrl: string,
  device: Pick<TestDevice, 'login' | 'secret'>,
): Promise<MqttClient> {
  return connectAs(mqttUrl, device.login, device.secret);
}

/** A well-formed reading of the device at `time` (what a healthy device sends). */
let lastTime = 0;
/** Now, but never the same millisecond twice: two readings of a device stamped alike are one InfluxDB point. */
function distinctNow(): number {
  lastTime = Math.max(Date.now(), lastTime + 1);
  return lastTime;
}

export function validReading(
  device: Pick<TestDevice, 'kind' | 'login' | 'identifiers'>,
  seq: number,
  time: number = distinctNow(),
): Reading {
  return reading(device, modelState(device), time, seq);
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Publishes at QoS 1 and resolves on the PUBACK (with a deadline). */
export async function publishAcked(
  client: MqttClient,
  topic: string,
  body: string | Buffer,
  timeoutMs = 10_000,
): Promise<void> {
  await withDeadline(client.publishAsync(topic, body, { qos: 1 }), timeoutMs, 'PUBACK');
}

/**
 * The SUBACK return codes for one SUBSCRIBE (with a deadline: mqtt.js waits
 * for a SUBACK forever). mqtt.js 5 rejects the promise when a code is 128
 * (failure); the SUBACK is on the error, so both come back as codes here.
 */
export async function subscribeCodes(
  client: MqttClient,
  topic: string,
  qos: 0 | 1 = 1,
  timeoutMs = 10_000,
): Promise<number[]> {
  try {
    const granted = await withDeadline(client.subscribeAsync(topic, { qos }), timeoutMs, 'SUBACK');
    return granted.map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: unknown } }).packet?.granted;
    if (!Array.isArray(granted)) throw err;
    return granted.map((g: number | { qos: number }) => (typeof g === 'number' ? g : g.qos));
  }
}

/** Resolves when the client's connection closes (listen before causing it). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.disconnected) resolve();
    client.once('close', () => resolve());
  });
}

/**
 * Watches `check` for `ms` (an observation window, not a wait for something
 * to happen): fails as soon as it returns false.
 */
export async function holdsFor(
  what: string,
  ms: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    assert.ok(await check(), `${what} stopped holding`);
    if (Date.now() >= end) return;
    await delay(Math.min(50, end - Date.now()));
  }
}

/** Polls `check` until it returns true, failing with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  await waitUntil(async () => check(), { what, timeoutMs, intervalMs: 25 });
}

export async function endAll(clients: Iterable<MqttClient>): Promise<void> {
  await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => undefined)));
}

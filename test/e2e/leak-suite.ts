/**
 * The leak test (SPEC: "No raw identifier anywhere downstream of ingest —
 * proven by tests that grep the store, Kafka topics and logs for the
 * identifiers the simulator used"). A misbehaving fleet and a hand-made device
 * that puts identifiers everywhere a device can; then everything Skjold keeps
 * or shows — InfluxDB, logs, /metrics, every registry table and, on the Kafka
 * path, every record on the topic — is searched for every raw identifier and
 * secret the run used. leak.test.ts runs it on the in-process transport,
 * leak-kafka.test.ts on Kafka.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { createFleet } from '../../device-sim/fleet.ts';
import { spaced } from '../../device-sim/identifiers.ts';
import { registerFleet } from '../../device-sim/register.ts';
import { type RunReport, runFleet } from '../../device-sim/runner.ts';
import { rows } from '../harness/influx-rows.ts';
import type { Stack } from '../harness/stack.ts';
import {
  addDevice,
  closed,
  connectAs,
  connectDevice,
  endAll,
  eventually,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';
import { metricValue, scrape } from './metrics.ts';

const TENANTS = [
  { id: 'leak-dk', name: 'Varmeværk A/S', jurisdiction: 'DK' as const, role: 'processor' as const },
  { id: 'leak-se', name: 'Nätbolaget AB', jurisdiction: 'SE' as const, role: 'controller' as const },
];
const INFLUX_QUERIES = [
  'SHOW MEASUREMENTS',
  'SELECT * FROM /.*/',
  'SHOW TAG KEYS',
  'SHOW TAG VALUES WITH KEY =~ /.*/',
  'SHOW SERIES',
  'SHOW FIELD KEYS',
];

/** A running Skjold, and what its transport adds to search (the Kafka topic). */
export interface LeakStack extends Stack {
  extraPlaces?: () => Promise<Map<string, string>>;
}

export function defineLeakTests(start: () => Promise<LeakStack>): void {
  let stack: LeakStack;
  let fleet: ReturnType<typeof createFleet>;
  let report: RunReport;
  let handMade: TestDevice;
  /** What the hand-made device sent in identifier fields, as sent: fresh values, own values, written forms. */
  const handMadeValues: string[] = [];
  const freshNamed: Record<'imei' | 'msisdn' | 'iccid', string> = { imei: '', msisdn: '', iccid: '' };
  /** Messages the hand-made device published to its own topic (each reaches ingest). */
  let handMadeHandled = 0;
  const clients: MqttClient[] = [];

  before(async () => {
    stack = await start();
    fleet = createFleet({ seed: 'leak', tenants: TENANTS, devicesPerKind: 3 });
    const registered = await registerFleet(fleet, stack.api.registrar);
    report = await runFleet({
      mqttUrl: stack.mqttUrl,
      devices: registered.devices,
      messagesPerDevice: 20,
      ratePerDevice: 100,
      qos: 1,
      startTime: new Date(Date.now() - 3_600_000),
      timeStepMs: 60_000,
      identifiers: fleet.identifiers,
      seed: 'leak',
      misbehave: { hiddenIdentifiers: 0.3, malformedJson: 0.05, wrongSchema: 0.05, wrongPassword: 1 },
    });

    // A SIM unit that reports identifiers in named and in unknown fields. Its
    // identifiers come from the fleet's source, so they are recorded too.
    const ids = fleet.identifiers;
    const tenant = TENANTS[0]?.id ?? '';
    handMade = await addDevice(stack.api, ids, tenant, 'sim_unit');
    const own = handMade.identifiers;
    freshNamed.imei = ids.imei();
    freshNamed.msisdn = ids.msisdn('DK');
    freshNamed.iccid = ids.iccid('DK');
    const unknown = {
      phone: spaced(ids.msisdn('DK'), 'msisdn'),
      sim: ids.iccid('DK'),
      customer_serial: ids.serial(),
    };
    const ownUnknown = {
      phone: spaced(own.msisdn ?? '', 'msisdn'),
      sim: handMade.login,
      customer_serial: own.imsi,
    };
    handMadeValues.push(...Object.values(freshNamed), spaced(freshNamed.msisdn, 'msisdn'));
    handMadeValues.push(...Object.values(unknown), ...Object.values(ownUnknown).map(String));

    const client = await connectDevice(stack.mqttUrl, handMade);
    clients.push(client);
    let seq = 0;
    const send = async (extra: Record<string, unknown>): Promise<void> => {
      const body = JSON.stringify({ ...validReading(handMade, seq++), ...extra });
      handMadeHandled++;
      await publishAcked(client, handMade.telemetry, body);
    };
    await send({
      imei: freshNamed.imei,
      msisdn: spaced(freshNamed.msisdn, 'msisdn'),
      iccid: freshNamed.iccid,
    });
    await send(unknown);
    await send({ imei: own.imei, msisdn: own.msisdn, iccid: handMade.login, imsi: own.imsi });
    await send(ownUnknown);
    // Rejected on schema, with identifiers in it: the rejection must not echo them.
    await send({ rssi_dbm: `${own.msisdn}`, imei: freshNamed.imei, phone: freshNamed.msisdn });
    // Not JSON at all, identifiers inside.
    handMadeHandled++;
    await publishAcked(client, handMade.telemetry, `{"iccid":"${handMade.login}","phone":"${own.msisdn}",`);

    // Refused connections naming identifiers: wrong password, unknown login.
    await assert.rejects(connectAs(stack.mqttUrl, handMade.login, `${handMade.secret}-wrong`));
    await assert.rejects(connectAs(stack.mqttUrl, ids.iccid('SE'), handMade.secret));
    // A publish on another device's topic (its login is in the topic).
    const intruder = await connectDevice(stack.mqttUrl, handMade);
    clients.push(intruder);
    const gone = closed(intruder);
    const victim = registered.devices[0];
    assert.ok(victim);
    intruder.publish(`skjold/d/${victim.login}/telemetry`, JSON.stringify({ note: `call ${own.msisdn}` }), {
      qos: 1,
    });
    await gone;

    // Everything published has been through ingest before anything is collected.
    const expected = report.published + handMadeHandled;
    await eventually(`ingest handled all ${expected} messages`, async () => {
      const handled = metricValue(await scrape(stack.apiUrl), 'skjold_ingest_messages_total');
      return handled === expected;
    });
    // A PUBACK means on disk (spool) or on the topic (Kafka): wait until all of it is in InfluxDB.
    await stack.settled();
  });
  after(async () => {
    await endAll(clients);
    await stack.stop();
  });

  interface Needle {
    /** What the value is, for the failure message. */
    what: string;
    value: string;
    pattern: RegExp;
  }

  const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  /** A search pattern per written form: digit strings must stand alone (not inside a longer number). */
  function needlesFor(what: string, value: string): Needle[] {
    const forms = new Set([value]);
    const digits = value.replace(/\D/g, '');
    if (digits.length >= 8 && /^[\d\s+().-]+$/.test(value)) {
      forms.add(digits);
      // A Nordic MSISDN as people dial it at home, without the country code.
      if (/^\+4[56]/.test(value.replace(/\s/g, ''))) forms.add(digits.slice(2));
    }
    return [...forms].map((form) => ({
      what,
      value: form,
      pattern: /^\d+$/.test(form)
        ? new RegExp(`(?<!\\d)${form}(?!\\d)`)
        : new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(form)}(?![A-Za-z0-9])`, 'i'),
    }));
  }

  function allNeedles(): Needle[] {
    const values = new Map<string, string>();
    const add = (what: string, list: Iterable<string | undefined>) => {
      for (const v of list) if (v && !values.has(v)) values.set(v, what);
    };
    add('raw identifier (report)', report.rawIdentifiers);
    add('hidden identifier as written', report.hiddenForms);
    add('identifier from the fleet’s source', fleet.identifiers.used());
    for (const d of fleet.devices) {
      add(`${d.kind} login`, [d.login]);
      add(`${d.kind} identifier`, Object.values(d.identifiers));
    }
    add('hand-made device login', [handMade.login]);
    add('hand-made device identifier', Object.values(handMade.identifiers));
    add('identifier the hand-made device sent', handMadeValues);
    const out = [...values].flatMap(([value, what]) => needlesFor(what, value));
    // Device secrets are not identifiers, but must not show up either.
    for (const d of [...fleet.devices, handMade]) {
      out.push({ what: 'device secret', value: d.secret, pattern: new RegExp(escapeRegExp(d.secret)) });
    }
    return out;
  }

  /** Every place Skjold keeps or shows data, as named texts. */
  async function collect(): Promise<Map<string, string>> {
    const places = new Map<string, string>();
    const store = stack.skjold.store;
    places.set(
      'InfluxDB SHOW DATABASES',
      JSON.stringify(await store.query(TENANTS[0]?.id ?? '', 'SHOW DATABASES')),
    );
    for (const tenant of TENANTS) {
      for (const q of INFLUX_QUERIES) {
        const result = await store.query(tenant.id, q);
        assert.equal(result[0]?.error, undefined, `${q}: ${result[0]?.error}`);
        places.set(`InfluxDB ${store.databaseFor(tenant.id)}: ${q}`, JSON.stringify(result));
      }
    }
    stack.logs.forEach((line, i) => {
      places.set(`log line ${i}`, line);
    });
    places.set('/metrics', await scrape(stack.apiUrl));
    for (const [where, text] of (await stack.extraPlaces?.()) ?? []) places.set(where, text);
    const status = await fetch(new URL('/status', stack.apiUrl), {
      headers: { authorization: `Bearer ${stack.config.SKJOLD_OPERATOR_TOKEN}` },
    });
    assert.equal(status.status, 200, 'the status page answers the operator');
    places.set('status page /status', await status.text());
    for (const tenant of TENANTS) {
      places.set(`API device list of ${tenant.id}`, JSON.stringify(await stack.api.listDevices(tenant.id)));
    }
    const sql = stack.skjold.registry.sql;
    const tables = await sql.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    assert.ok(tables.length >= 5, 'the registry’s tables were found');
    for (const { table_name } of tables) {
      const all = await sql.query(`SELECT * FROM "${table_name}"`);
      places.set(`registry table ${table_name}`, JSON.stringify(all));
    }
    return places;
  }

  test('the run exercised what the leak test is about', () => {
    assert.equal(report.refusedConnects, 1, 'one fleet device used a wrong password');
    assert.equal(report.unacked, 0);
    assert.ok(report.acked > 0);
    assert.ok(report.hiddenForms.length > 0 || report.rawIdentifiers.length > fleet.devices.length * 2);
    const kinds = new Set(report.misbehaved.map((m) => m.kind));
    assert.ok(kinds.has('malformed_json') && kinds.has('wrong_schema'), [...kinds].join());
    assert.ok(stack.logs.length > 0, 'logs were captured');
  });

  test('no raw identifier or device secret is in InfluxDB, the logs, /metrics, the API or the registry', async () => {
    const needles = allNeedles();
    assert.ok(needles.length > 100, `searched for ${needles.length} forms`);
    const places = await collect();
    const hits: string[] = [];
    for (const [where, text] of places) {
      for (const n of needles) {
        if (n.pattern.test(text))
          hits.push(`${n.what} "${n.value}" found in ${where}: ${excerpt(text, n.pattern)}`);
      }
    }
    assert.deepEqual(hits, [], `raw identifiers leaked:\n${hits.join('\n')}`);
  });

  test('the pseudonymised notes reached InfluxDB and were counted', async () => {
    let bracketed = 0;
    for (const tenant of TENANTS) {
      const notes = await rows(stack.skjold.store, tenant.id, 'SELECT note FROM /.*/ WHERE note =~ /./');
      for (const r of notes) bracketed += String(r.note).match(/\[[a-z]+:v1\.[a-z2-7]{26}\]/g)?.length ?? 0;
    }
    assert.ok(bracketed > 0, 'some note carries a [type:v1.…] pseudonym');
    const text = await scrape(stack.apiUrl);
    assert.equal(
      metricValue(text, 'skjold_identifiers_pseudonymised_total', { where: 'text' }),
      bracketed,
      'every pseudonym in a stored note was counted',
    );
  });

  test('identifiers in named fields are stored as pseudonyms; unknown and own ones are dropped and counted', async () => {
    const tenant = handMade.tenantId;
    const stored = await rows(
      stack.skjold.store,
      tenant,
      `SELECT * FROM sim_unit WHERE device = '${handMade.pseudonym}' ORDER BY time`,
    );
    assert.equal(stored.length, 4, 'the four well-formed readings were stored, the two broken ones not');
    const p = stack.skjold.pseudonymizer;
    const first = stored.find((r) => r.seq === 0);
    assert.equal(first?.imei_pseudonym, p.pseudonym(tenant, 'imei', freshNamed.imei));
    assert.equal(first?.msisdn_pseudonym, p.pseudonym(tenant, 'msisdn', freshNamed.msisdn));
    assert.equal(first?.iccid_pseudonym, p.pseudonym(tenant, 'iccid', freshNamed.iccid));
    for (const r of stored.filter((x) => x.seq !== 0)) {
      for (const f of [
        'imei_pseudonym',
        'msisdn_pseudonym',
        'iccid_pseudonym',
        'imsi_pseudonym',
        'phone',
        'sim',
      ]) {
        assert.equal(r[f] ?? null, null, `seq ${r.seq}: ${f} not stored`);
      }
      assert.equal(r.customer_serial ?? null, null);
    }
    const text = await scrape(stack.apiUrl);
    assert.ok(metricValue(text, 'skjold_identifiers_pseudonymised_total', { where: 'field' }) >= 3);
    assert.ok(
      metricValue(text, 'skjold_ingest_fields_dropped_total', { kind: 'sim_unit', reason: 'identifier' }) >=
        6,
    );
    assert.ok(
      metricValue(text, 'skjold_ingest_fields_dropped_total', { kind: 'sim_unit', reason: 'unknown' }) >= 2,
    );
  });

  function excerpt(text: string, pattern: RegExp): string {
    const m = pattern.exec(text);
    if (!m) return '';
    return JSON.stringify(text.slice(Math.max(0, m.index - 80), m.index + m[0].length + 80));
  }
}

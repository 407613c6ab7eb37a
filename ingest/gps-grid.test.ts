import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_GRID_METRES,
  gridCell,
  MAX_GRID_METRES,
  METRES_PER_DEGREE_LAT,
  METRES_PER_DEGREE_LON,
  MIN_GRID_METRES,
  snapToGrid,
} from './gps-grid.ts';

const R = 6_371_008.8; // mean Earth radius, metres
const rad = (d: number) => (d * Math.PI) / 180;

/** Great-circle distance in metres. */
function distance(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const h =
    Math.sin(rad(b.lat - a.lat) / 2) ** 2 +
    Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lon - a.lon) / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

const lat = fc.double({ min: -90, max: 90, noNaN: true });
const lon = fc.double({ min: -180, max: 180, noNaN: true });
const size = fc.integer({ min: MIN_GRID_METRES, max: MAX_GRID_METRES });
const inside = fc.double({ min: 0.001, max: 0.999, noNaN: true });

test('a stored position is the centre of its own cell: snapping it again changes nothing', () => {
  fc.assert(
    fc.property(lat, lon, size, (la, lo, s) => {
      const cell = gridCell(la, lo, s);
      const stored = snapToGrid(la, lo, s);
      assert.deepEqual(stored, cell.centre);
      assert.ok(cell.south <= la && la <= cell.north, 'the cell holds the latitude');
      assert.ok(cell.west <= lo || lo === 180, 'the cell holds the longitude');
      assert.ok(lo <= cell.east || lo === 180);
      assert.equal(stored.lat, (cell.south + cell.north) / 2);
      assert.equal(stored.lon, (cell.west + cell.east) / 2);
      assert.deepEqual(snapToGrid(stored.lat, stored.lon, s), stored);
    }),
    { numRuns: 2000 },
  );
});

test('the stored position is at most the cell half-diagonal from the true one', () => {
  fc.assert(
    fc.property(lat, lon, size, (la, lo, s) => {
      const cell = gridCell(la, lo, s);
      const corners = [
        { lat: cell.south, lon: cell.west },
        { lat: cell.south, lon: cell.east },
        { lat: cell.north, lon: cell.west },
        { lat: cell.north, lon: cell.east },
      ];
      const halfDiagonal = Math.max(...corners.map((c) => distance(cell.centre, c)));
      assert.ok(distance({ lat: la, lon: lo }, cell.centre) <= halfDiagonal * (1 + 1e-9) + 1e-6);
    }),
    { numRuns: 2000 },
  );
});

test('away from the poles the half-diagonal stays within a few cell sizes', () => {
  fc.assert(
    fc.property(fc.double({ min: -70, max: 70, noNaN: true }), lon, size, (la, lo, s) => {
      const cell = gridCell(la, lo, s);
      const d = distance(cell.centre, { lat: cell.south, lon: cell.west });
      // The equatorward edge is a little wider than the poleward one, which is at least `size`.
      assert.ok(d <= s * 1.2, `${d} m from the centre to a corner of a ${s} m cell`);
    }),
    { numRuns: 2000 },
  );
});

test('every cell is at least the stated size, in both directions', () => {
  fc.assert(
    fc.property(lat, lon, size, (la, lo, s) => {
      const cell = gridCell(la, lo, s);
      assert.ok((cell.north - cell.south) * METRES_PER_DEGREE_LAT >= s - 1e-6, 'height');
      const poleward = Math.max(Math.abs(cell.south), Math.abs(cell.north));
      const width = (cell.east - cell.west) * METRES_PER_DEGREE_LON * Math.cos(rad(poleward));
      // A row that reaches a pole is one cell round it.
      assert.ok(poleward >= 90 - 1e-9 || width >= s - 1e-6, `width ${width} at ${poleward}°`);
    }),
    { numRuns: 2000 },
  );
});

test('two positions in the same cell are stored as the same position', () => {
  fc.assert(
    fc.property(lat, lon, size, inside, inside, inside, inside, (la, lo, s, a, b, c, d) => {
      const cell = gridCell(la, lo, s);
      const at = (f: number, g: number) =>
        snapToGrid(cell.south + f * (cell.north - cell.south), cell.west + g * (cell.east - cell.west), s);
      assert.deepEqual(at(a, b), at(c, d));
      assert.deepEqual(at(a, b), cell.centre);
    }),
    { numRuns: 2000 },
  );
});

test('Copenhagen on the default 1 km grid: one cell for the street, the next cell 1 km on', () => {
  const town = snapToGrid(55.676098, 12.568337, DEFAULT_GRID_METRES);
  assert.ok(distance(town, { lat: 55.676098, lon: 12.568337 }) < 1_000);
  assert.deepEqual(snapToGrid(55.6762, 12.5684, DEFAULT_GRID_METRES), town, 'the neighbour, 10 m on');
  const cell = gridCell(55.676098, 12.568337, DEFAULT_GRID_METRES);
  assert.notDeepEqual(snapToGrid(cell.north + 1e-6, 12.568337, DEFAULT_GRID_METRES), town);
  // 1 km of latitude is ~0.009°; 1 km of longitude at 55.7° is ~0.016°.
  assert.ok(Math.abs(cell.north - cell.south - 0.00904) < 0.0001);
  assert.ok(Math.abs(cell.east - cell.west - 0.016) < 0.0003);
  // The antimeridian is one meridian: 180° and −180° share a cell.
  assert.deepEqual(snapToGrid(10, 180, 1000), snapToGrid(10, -180, 1000));
});

test('a longitude a hair short of 180° is in the last column; 180° itself wraps to the first', () => {
  const edge = gridCell(0, 179.99999999999994, 117);
  assert.ok(edge.west <= 179.99999999999994 && edge.east === 180);
  assert.equal(gridCell(0, 180, 117).col, 0);
  assert.deepEqual(gridCell(0, 180, 117), gridCell(0, -180, 117));
});

/**
 * The simulator's identifiers must be the ones Skjold's pseudonymizer
 * recognises: this checks both sides agree on validity, type, and on finding
 * the identifiers hidden in notes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findInText } from '../pseudonymizer/detect.ts';
import { classify, type IdentifierType, isValid } from '../pseudonymizer/identifiers.ts';
import { createFleet } from './fleet.ts';
import { hiddenIdentifierNote } from './payloads.ts';
import { createRng } from './random.ts';

const fleet = createFleet({
  seed: 'cross-check',
  tenants: [
    { id: 'dk', name: 'DK', jurisdiction: 'DK', role: 'processor' },
    { id: 'se', name: 'SE', jurisdiction: 'SE', role: 'controller' },
  ],
  devicesPerKind: 100,
});

test("the pseudonymizer's validators accept every generated identifier as its own type", () => {
  for (const d of fleet.devices) {
    for (const [type, value] of Object.entries(d.identifiers)) {
      if (type === 'serial' || value === undefined) continue; // no standard format to validate
      assert.ok(isValid(type as IdentifierType, value), `${type} ${value}`);
      assert.equal(classify(value), type, value);
    }
  }
});

const notes = (() => {
  const rng = createRng('notes');
  return Array.from({ length: 500 }, () => hiddenIdentifierNote(rng, fleet.identifiers));
})();
const found = (note: string, value: string) =>
  findInText(note).some((f) => note.slice(f.start, f.end).replace(/[^0-9A-Z+-]/g, '') === value);

test('the pseudonymizer finds every standard-format identifier hidden in a note', () => {
  for (const h of notes) {
    for (const value of h.identifiers) {
      if (value.startsWith('BS-')) continue;
      assert.ok(found(h.note, value), `${value} not found in "${h.note}"`);
    }
  }
});

test('the pseudonymizer finds building serials hidden in a note', () => {
  for (const h of notes) {
    for (const value of h.identifiers) {
      if (value.startsWith('BS-')) assert.ok(found(h.note, value), `${value} not found in "${h.note}"`);
    }
  }
});

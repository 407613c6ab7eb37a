import { typeForFieldName } from '../pseudonymizer/detect.ts';
import { countryForMcc } from '../pseudonymizer/location.ts';
import type { Pseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import type { IngestPseudonymizer } from './transform.ts';

/** Ingest's view of the pseudonymizer: pseudonyms, free-text detection, MCC → country. */
export function createIngestPseudonymizer(pseudonymizer: Pseudonymizer): IngestPseudonymizer {
  return {
    tryPseudonym: (tenantId, type, value) => pseudonymizer.tryPseudonym(tenantId, type, value),
    pseudonymizeText: (tenantId, text) => pseudonymizer.pseudonymizeText(tenantId, text),
    countryForMcc: (mcc) => countryForMcc(mcc),
    isIdentifierFieldName: (name) => typeForFieldName(name) !== undefined,
  };
}

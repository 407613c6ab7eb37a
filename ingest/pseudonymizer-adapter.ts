import { typeForFieldName } from '../pseudonymizer/detect.ts';
import { countryForMcc } from '../pseudonymizer/location.ts';
import type { Pseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import type { IngestPseudonymizer } from './transform.ts';

/** Ingest's view of the pseudonymizer: pseudonyms, free-text detection, MCC → country. */
export function createIngestPseudonymizer(pseudonymizer: Pseudonymizer): IngestPseudonymizer {
  return {
    tryPseudonyms(tenantId, type, value) {
      const current = pseudonymizer.tryPseudonym(tenantId, type, value);
      if (current === undefined) return undefined;
      return { current, all: pseudonymizer.allVersions(tenantId, type, value).map((v) => v.pseudonym) };
    },
    pseudonymizeText: (tenantId, text) => pseudonymizer.pseudonymizeText(tenantId, text),
    countryForMcc: (mcc) => countryForMcc(mcc),
    isIdentifierFieldName: (name) => typeForFieldName(name) !== undefined,
  };
}

/** The pseudonymizer's public API: identifier formats, detection, location, keys and pseudonyms. */
export {
  type FieldIdentifierType,
  type Finding,
  type FindingType,
  findInText,
  redactText,
  typeForFieldName,
} from './detect.ts';
export {
  canonicalise,
  classify,
  IDENTIFIER_TYPES,
  type IdentifierType,
  isValid,
  luhnCheckDigit,
  luhnValid,
  mncLength,
  normalise,
  PSEUDONYM_TYPES,
  type PseudonymType,
  parseImsi,
} from './identifiers.ts';
export { type KeyStore, type KeyStoreOptions, type KeyStoreSummary, openKeyStore } from './keystore.ts';
export { coarsenGps, countryForMcc, isKnownMcc } from './location.ts';
export {
  base32,
  createPseudonymizer,
  type Pseudonymizer,
  type PseudonymizerOptions,
} from './pseudonymizer.ts';

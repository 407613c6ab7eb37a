/**
 * device-sim: simulated fleets of heat meters, SIM units and building sensors
 * (misbehaving ones included), their registration, an MQTT runner and a load
 * generator for benchmarks.
 */
export { connectDevice, errorKey } from './connect-device.ts';
export type { Fleet, FleetContract, FleetOptions, FleetTenant, SimDevice } from './fleet.ts';
export { contractIdFor, createFleet, deviceIdentifiers } from './fleet.ts';
export type { Country, IdentifierSource, IdentifierType, SimIdentifiers } from './identifiers.ts';
export {
  createIdentifierSource,
  generate,
  isBuildingSerial,
  isIccid,
  isImei,
  isImsi,
  isMsisdn,
  isWmbusId,
  luhnCheckDigit,
  luhnValid,
  spaced,
  VALIDATORS,
  WMBUS_MANUFACTURERS,
} from './identifiers.ts';
export type { LoadReport, RunLoadOptions } from './load.ts';
export { runLoad } from './load.ts';
export type {
  BuildingSensorState,
  BuildingSensorValues,
  HeatMeterState,
  HeatMeterStatus,
  HeatMeterValues,
  ModelState,
  ModelValues,
  SimUnitState,
  SimUnitValues,
} from './models.ts';
export { HEAT_METER_STATUSES, modelState, modelValues, occupancyShape } from './models.ts';
export type { MisbehaveOptions, NextMessage } from './next-message.ts';
export { nextMessage } from './next-message.ts';
export type { HiddenNote, MalformedVariant, Reading, WrongSchemaVariant } from './payloads.ts';
export {
  hiddenIdentifierNote,
  MALFORMED_VARIANTS,
  malformedJson,
  NOTE_MAX_CHARS,
  oversize,
  reading,
  WRONG_SCHEMA_VARIANTS,
  wrongSchema,
} from './payloads.ts';
export type { Rng } from './random.ts';
export { createRng, hash01, hashString, valueNoise, wander } from './random.ts';
export type { RegisterOptions, RegisterResult } from './register.ts';
export { registerFleet } from './register.ts';
export type {
  ContractInput,
  DeviceIdentifiers,
  DeviceInput,
  Jurisdiction,
  LegalBasis,
  Registrar,
  Role,
} from './registrar.ts';
export type { Misbehaved, RunFleetOptions, RunReport, SentReading } from './runner.ts';
export { runFleet } from './runner.ts';

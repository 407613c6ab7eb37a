import type { ApiClient } from '../cli/api-client.ts';
import { createFleet, type FleetTenant } from '../device-sim/fleet.ts';
import { registerFleet } from '../device-sim/register.ts';
import { runFleet } from '../device-sim/runner.ts';
import type { Config } from '../lib/config.ts';

/** The demo fleet: a Danish district-heating utility (processor) and a Swedish IoT operator (controller). */
export const DEMO_TENANTS: FleetTenant[] = [
  { id: 'nordvarme', name: 'Nordvarme Fjernvarme A/S', jurisdiction: 'DK', role: 'processor' },
  { id: 'fjordnet', name: 'Fjordnet IoT AB', jurisdiction: 'SE', role: 'controller' },
];

export interface SimulationOptions {
  devicesPerKind: number;
  ratePerDevice: number;
  durationMs?: number;
  seed: string;
  signal?: AbortSignal;
}

/**
 * Registers the demo fleet through the API (as an operator would) and runs it
 * over MQTT, a few devices misbehaving so the rejections show up on the
 * dashboard. Returns counts only: the report's raw identifiers stay here.
 */
export async function runSimulation(config: Config, api: ApiClient, options: SimulationOptions) {
  const fleet = createFleet({
    seed: options.seed,
    tenants: DEMO_TENANTS,
    devicesPerKind: options.devicesPerKind,
  });
  const registered = await registerFleet(fleet, api.registrar);
  const host = config.SKJOLD_MQTT_HOST === '0.0.0.0' ? '127.0.0.1' : config.SKJOLD_MQTT_HOST;
  const report = await runFleet({
    mqttUrl: `${config.SKJOLD_MQTT_TLS_CERT ? 'mqtts' : 'mqtt'}://${host}:${config.SKJOLD_MQTT_PORT}`,
    devices: registered.devices,
    ratePerDevice: options.ratePerDevice,
    qos: 1,
    seed: options.seed,
    identifiers: fleet.identifiers,
    ...(options.durationMs ? { durationMs: options.durationMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    misbehave: {
      wrongPassword: 1,
      malformedJson: 0.01,
      wrongSchema: 0.01,
      hiddenIdentifiers: 0.05,
    },
  });
  return {
    devices: registered.devices.length,
    registered: registered.created,
    alreadyRegistered: registered.existing,
    published: report.published,
    acknowledged: report.acked,
    unacknowledged: report.unacked,
    refusedConnects: report.refusedConnects,
    misbehaved: report.misbehaved.length,
    errors: report.errors,
  };
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_GRID_METRES } from '../ingest/gps-grid.ts';
import { DEVICE_IDENTIFIER_TYPES } from '../registry/enrolment.ts';
import { apiFor, type Entry, flag, need, print, str } from './command-kit.ts';
import { REQUEST_COMMANDS, REQUEST_USAGE } from './commands-requests.ts';
import { RETENTION_USAGE, retentionCommands } from './commands-retention.ts';
import { USER_COMMANDS, USERS_USAGE } from './commands-users.ts';
import { importDevices, withProgress } from './long-commands.ts';

export const USAGE = `Usage: skjold <command> [options]

  version                                       Skjold's version and the Node.js it runs on
  start [--simulate] [--devices N] [--rate R]   run broker, ingest, API and console (and a simulated fleet)
  writer                                        store writers only (SKJOLD_TRANSPORT=kafka): Kafka → InfluxDB
  simulate [--devices N] [--rate R] [--duration S] [--seed X]
                                                register a simulated fleet through the API and run it
  tenants add <id> --name NAME                  register a tenant (its own key and database)
  tenants list
  tenants move --tenant T --to STORE            copy the tenant's telemetry to another store, switch, drop the old copy
                                                (run it again to resume a move that was interrupted)
  stores list                                   the configured InfluxDB stores and the tenants on each
  contracts add --tenant T --id C --role controller|processor --purpose TEXT
                --legal-basis B --starts YYYY-MM-DD [--ends YYYY-MM-DD] --jurisdiction DK|SE [--gps | --gps-grid-meters N]
  contracts list --tenant T
  devices add --tenant T --contract C --kind heat_meter|sim_unit|building_sensor
              [--iccid ..] [--imsi ..] [--imei ..] [--msisdn ..] [--wmbus ..] [--serial ..] [--secret ..]
              [--area AREA]                     building or postcode area: the group retention anonymises by
  devices import --tenant T FILE.csv            columns: kind,contract,iccid,imsi,imei,msisdn,wmbus,serial,secret[,area]
  devices list --tenant T
  devices decommission --tenant T --device ID   refuse the device's logins from now on and close its connection
  subjects link --tenant T --ref REF --device DEVICE_ID [--from DATE] [--to DATE]
                                                the subject occupies the device from --from (default: always)
                                                until --to (default: still); DATE is YYYY-MM-DD or ISO date-time
  subjects move-out --tenant T --ref REF --device DEVICE_ID --at DATE
                                                close the open period; a heat meter's register is kept for billing
  keys rotate --tenant T                        new key version; older data stays findable
  keys destroy --tenant T --version N           crypto-shred an old key version: its pseudonyms become unlinkable
                                                for good (refused for the current version and while a hold,
                                                an open request or data in its retention needs it)
  dashboard-credential --tenant T --username U --password P
                                                read-only InfluxDB login for one tenant's database
${RETENTION_USAGE}
  audit verify                                  check the audit log's keyed chain and anchors (exit 1 if broken)
  audit list [--tenant T] [--action A] [--after SEQ] [--limit N]
  records [--tenant T] [--json]                 GDPR art. 30 records of processing, from the registry
${USERS_USAGE}

${REQUEST_USAGE}
Commands other than start and writer talk to the running API (SKJOLD_API_URL, default http(s)://SKJOLD_API_HOST:SKJOLD_API_PORT)
with SKJOLD_OPERATOR_TOKEN or the token start wrote into the data directory (tenant commands: with the tenant token).
`;

export const COMMANDS: Entry[] = [
  {
    name: 'version',
    options: {},
    async run() {
      const pkg = JSON.parse(await readFile(join(import.meta.dirname, '../package.json'), 'utf8')) as {
        version: string;
      };
      // The Node.js too: `npx skjold` must run on the Node 24 the packages bring, not the system's.
      process.stdout.write(`skjold ${pkg.version} on Node.js ${process.version}\n`);
    },
  },
  {
    name: 'audit verify',
    options: {},
    async run(cmd) {
      const res = await (await apiFor(cmd.config)).raw('GET', '/v1/audit/verify');
      if (res.status !== 200 && res.status !== 409)
        throw new Error(`audit verify: HTTP ${res.status} ${res.text}`);
      const result = JSON.parse(res.text) as {
        entries: number;
        problems: { seq: number; kind: string; problem: string }[];
      };
      print(result);
      if (res.status !== 409) return 0;
      // One line per problem, its kind first (docs/accountability.md lists them): readable without jq.
      const lines = result.problems.map(
        (p) => `  ${p.kind}${p.seq > 0 ? ` at entry ${p.seq}` : ''}: ${p.problem}`,
      );
      process.stderr.write(
        `audit log verification FAILED (${result.problems.length} problems in ${result.entries} entries)\n${lines.join('\n')}\n`,
      );
      return 1;
    },
  },
  {
    name: 'audit list',
    options: { tenant: str, action: str, after: str, limit: str },
    async run(cmd) {
      const q = new URLSearchParams();
      for (const k of ['tenant', 'action', 'after', 'limit']) {
        const v = cmd.values[k];
        if (typeof v === 'string') q.set(k, v);
      }
      print(await (await apiFor(cmd.config)).call('GET', `/v1/audit?${q}`));
    },
  },
  {
    name: 'records',
    options: { tenant: str, json: { type: 'boolean' } },
    async run(cmd) {
      const q = new URLSearchParams({ format: cmd.values.json ? 'json' : 'text' });
      if (typeof cmd.values.tenant === 'string') q.set('tenant', cmd.values.tenant);
      const res = await (await apiFor(cmd.config)).raw('GET', `/v1/records?${q}`);
      if (res.status !== 200) throw new Error(`records: HTTP ${res.status} ${res.text}`);
      process.stdout.write(cmd.values.json ? `${JSON.stringify(JSON.parse(res.text), null, 2)}\n` : res.text);
    },
  },
  {
    name: 'start',
    options: { simulate: { type: 'boolean' }, devices: str, rate: str },
    async run(cmd) {
      const { runStart } = await import('../app/main.ts');
      await runStart(cmd.config, {
        simulate: cmd.values.simulate === true,
        devicesPerKind: Number(cmd.values.devices ?? 5),
        ratePerDevice: Number(cmd.values.rate ?? 1),
      });
    },
  },
  {
    name: 'writer',
    options: {},
    async run(cmd) {
      const { runWriter } = await import('../app/writer-main.ts');
      await runWriter(cmd.config);
    },
  },
  {
    name: 'simulate',
    options: { devices: str, rate: str, duration: str, seed: str },
    async run(cmd) {
      const { runSimulation } = await import('../app/simulation.ts');
      const api = await apiFor(cmd.config);
      const report = await runSimulation(cmd.config, api, {
        devicesPerKind: Number(cmd.values.devices ?? 5),
        ratePerDevice: Number(cmd.values.rate ?? 1),
        durationMs: Number(cmd.values.duration ?? 30) * 1000,
        seed: String(cmd.values.seed ?? 'skjold-demo'),
      });
      print(report);
    },
  },
  {
    name: 'tenants add',
    options: { name: str },
    async run(cmd) {
      const [id] = cmd.positionals;
      if (!id) throw Object.assign(new Error('a tenant id is required'), { code: 'ERR_PARSE_ARGS_MISSING' });
      print(await (await apiFor(cmd.config)).createTenant({ id, name: need(cmd, 'name') }));
    },
  },
  {
    name: 'tenants list',
    options: {},
    run: async (cmd) => print(await (await apiFor(cmd.config)).listTenants()),
  },
  {
    name: 'tenants move',
    options: { tenant: str, to: str },
    async run(cmd) {
      const path = `/v1/tenants/${need(cmd, 'tenant')}/move`;
      print(await (await apiFor(cmd.config)).call('POST', path, { to: need(cmd, 'to') }));
    },
  },
  {
    name: 'stores list',
    options: {},
    run: async (cmd) => print(await (await apiFor(cmd.config)).call('GET', '/v1/stores')),
  },
  {
    name: 'contracts add',
    options: {
      tenant: str,
      id: str,
      role: str,
      purpose: str,
      'legal-basis': str,
      starts: str,
      ends: str,
      jurisdiction: str,
      gps: flag,
      'gps-grid-meters': str,
    },
    async run(cmd) {
      const api = await apiFor(cmd.config);
      const grid = cmd.values['gps-grid-meters'];
      // --gps alone keeps GPS on the default grid; neither drops it (art. 5(1)(c)).
      const gps = grid === undefined ? (cmd.values.gps ? DEFAULT_GRID_METRES : null) : Number(grid);
      const body = {
        id: need(cmd, 'id'),
        role: need(cmd, 'role'),
        purpose: need(cmd, 'purpose'),
        legalBasis: need(cmd, 'legal-basis'),
        startsOn: need(cmd, 'starts'),
        endsOn: (cmd.values.ends as string | undefined) ?? null,
        jurisdiction: need(cmd, 'jurisdiction'),
        gpsGridMeters: gps,
      };
      print(await api.call('POST', `/v1/tenants/${need(cmd, 'tenant')}/contracts`, body));
    },
  },
  {
    name: 'contracts list',
    options: { tenant: str },
    run: async (cmd) =>
      print(await (await apiFor(cmd.config)).call('GET', `/v1/tenants/${need(cmd, 'tenant')}/contracts`)),
  },
  {
    name: 'devices add',
    options: {
      tenant: str,
      contract: str,
      kind: str,
      secret: str,
      area: str,
      ...Object.fromEntries(DEVICE_IDENTIFIER_TYPES.map((t) => [t, str])),
    },
    async run(cmd) {
      const identifiers = Object.fromEntries(
        DEVICE_IDENTIFIER_TYPES.filter((t) => typeof cmd.values[t] === 'string').map((t) => [
          t,
          cmd.values[t],
        ]),
      );
      const body = {
        kind: need(cmd, 'kind'),
        contractId: need(cmd, 'contract'),
        identifiers,
        secret: cmd.values.secret,
        area: cmd.values.area,
      };
      print(
        await (await apiFor(cmd.config)).call('POST', `/v1/tenants/${need(cmd, 'tenant')}/devices`, body),
      );
    },
  },
  {
    name: 'devices import',
    options: { tenant: str },
    async run(cmd) {
      const [file] = cmd.positionals;
      if (!file) throw Object.assign(new Error('a CSV file is required'), { code: 'ERR_PARSE_ARGS_MISSING' });
      const [api, tenant, csv] = [await apiFor(cmd.config), need(cmd, 'tenant'), await cmd.readFile(file)];
      print(
        await withProgress(cmd, 'devices import', (progress) => importDevices(api, tenant, csv, progress)),
      );
    },
  },
  {
    name: 'devices list',
    options: { tenant: str },
    run: async (cmd) => print(await (await apiFor(cmd.config)).listDevices(need(cmd, 'tenant'))),
  },
  {
    name: 'subjects link',
    options: { tenant: str, ref: str, device: str, from: str, to: str },
    async run(cmd) {
      const period = {
        from: cmd.values.from as string | undefined,
        to: cmd.values.to as string | undefined,
      };
      await (await apiFor(cmd.config)).linkSubject(
        need(cmd, 'tenant'),
        need(cmd, 'ref'),
        need(cmd, 'device'),
        period,
      );
      print({ linked: true, from: period.from ?? null, to: period.to ?? null });
    },
  },
  {
    name: 'subjects move-out',
    options: { tenant: str, ref: str, device: str, at: str },
    async run(cmd) {
      const path = `/v1/tenants/${need(cmd, 'tenant')}/subjects/${encodeURIComponent(need(cmd, 'ref'))}/devices/${need(cmd, 'device')}/move-out`;
      print(await (await apiFor(cmd.config)).call('POST', path, { at: need(cmd, 'at') }));
    },
  },
  {
    name: 'keys rotate',
    options: { tenant: str },
    run: async (cmd) => print(await (await apiFor(cmd.config)).rotateKey(need(cmd, 'tenant'))),
  },
  {
    name: 'keys destroy',
    options: { tenant: str, version: str },
    async run(cmd) {
      const version = Number(need(cmd, 'version'));
      if (!Number.isInteger(version) || version < 1)
        throw Object.assign(new Error('--version is a key version: 1, 2, …'), {
          code: 'ERR_PARSE_ARGS_INVALID',
        });
      print(await (await apiFor(cmd.config)).destroyKey(need(cmd, 'tenant'), version));
    },
  },
  {
    name: 'devices decommission',
    options: { tenant: str, device: str },
    run: async (cmd) =>
      print(await (await apiFor(cmd.config)).decommissionDevice(need(cmd, 'tenant'), need(cmd, 'device'))),
  },
  {
    name: 'dashboard-credential',
    options: { tenant: str, username: str, password: str },
    run: async (cmd) =>
      print(
        await (await apiFor(cmd.config)).dashboardCredential(
          need(cmd, 'tenant'),
          need(cmd, 'username'),
          need(cmd, 'password'),
        ),
      ),
  },
  ...retentionCommands(),
  ...REQUEST_COMMANDS,
  ...USER_COMMANDS,
];

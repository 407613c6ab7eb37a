import { z } from 'zod';
import { DEVICE_KINDS } from '../lib/device-kinds.ts';
import { TELEMETRY_FIELDS } from '../store/telemetry-fields.ts';
import { AGGREGATIONS } from '../store/telemetry-influxql.ts';
import { WINDOW_PATTERN } from '../store/telemetry-window.ts';

/** Most devices one query may name or select (docs/telemetry-api.md). */
export const MAX_DEVICES_PER_QUERY = 200;

const pseudonym = '[A-Za-z0-9._-]{1,100}';

/**
 * The query string of a telemetry query (GET …/telemetry). Field names are
 * checked against the kind's allow-list; `devices` is comma-separated
 * pseudonyms; `devices` and `group` are two ways to choose and do not mix.
 */
export const telemetryQueryParams = z
  .object({
    kind: z.enum(DEVICE_KINDS),
    field: z.string().min(1).max(64),
    devices: z
      .string()
      .max(MAX_DEVICES_PER_QUERY * 101 * 2)
      .regex(new RegExp(`^${pseudonym}(,${pseudonym})*$`), 'comma-separated device pseudonyms')
      .optional(),
    group: z.string().min(1).max(100).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    window: z.string().regex(WINDOW_PATTERN, 'a whole number of s, m, h or d, e.g. 15m').optional(),
    agg: z.enum(AGGREGATIONS).default('mean'),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .superRefine((q, ctx) => {
    if (!TELEMETRY_FIELDS[q.kind].some((f) => f.name === q.field))
      ctx.addIssue({
        code: 'custom',
        path: ['field'],
        message: `must be one of ${TELEMETRY_FIELDS[q.kind].map((f) => f.name).join(', ')}`,
      });
    if (q.devices !== undefined && q.group !== undefined)
      ctx.addIssue({ code: 'custom', path: ['group'], message: 'give devices or group, not both' });
  });
export type TelemetryQueryParams = z.infer<typeof telemetryQueryParams>;

/** The query string of the device list (GET …/telemetry/devices). */
export const telemetryDevicesParams = z.object({ kind: z.enum(DEVICE_KINDS).optional() });
export type TelemetryDevicesParams = z.infer<typeof telemetryDevicesParams>;

/**
 * Where Skjold's CPU goes per message, by pipeline stage, from a V8 CPU
 * profile of the Skjold process taken over one benchmark step. Each sample is
 * given to the stage of the nearest frame on its stack that belongs to one —
 * so JSON.parse called from ingest/transform.ts counts as validation and a
 * socket write called from the InfluxDB client as the HTTP write — and what
 * has none is `other` (timers, the API, the registry…).
 *
 * The sampler's time deltas are wall time: on a busy machine a descheduled
 * thread's wait is charged to whatever it was running. So the profile gives
 * the shares, and the thread's CPU time from the kernel over the same window
 * (`process.threadCpuUsage()`) gives the total they divide. Only the main
 * thread is sampled: the durable write itself runs on libuv's thread pool, so
 * `spool commit` is the main thread's share of a commit (queueing, the write
 * call, resolving the appends), not the disk's time.
 */

export const STAGES = [
  'broker (MQTT)',
  'validate',
  'pseudonymise',
  'spool append',
  'spool commit (write+fsync)',
  'drain',
  'HTTP write',
  'Kafka produce',
  'gc',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];

export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
}

export interface CpuStages {
  /** Messages the step's figures are divided by (acknowledged in the step). */
  messages: number;
  /** The main thread's CPU time over the profile, from the kernel, s. */
  cpuS: number;
  /** Wall time the profile saw the main thread busy (idle excluded), s: more than cpuS when the machine is contended. */
  sampledS: number;
  /** Main-thread CPU per message by stage, µs. */
  usPerMessage: Record<Stage, number>;
}

const COMMIT_FUNCTIONS = new Set([
  'commitLoop',
  'append',
  'appendWith',
  'copyFrame',
  'dequeue',
  'take',
  'appendGroup',
  'roll',
  'startAgeClock',
]);
const APPEND_FUNCTIONS = new Set(['send', 'append', 'appendWhenRoom']);

/** The stage a frame belongs to, or undefined when it says nothing (a library called from anywhere). */
function stageOf(url: string, fn: string): Stage | undefined {
  if (fn === '(garbage collector)') return 'gc';
  if (!url) return undefined;
  if (/node_modules\/(aedes|mqtt-packet|mqemitter|aedes-[^/]+|qlobber)\//.test(url) || /\/broker\//.test(url))
    return 'broker (MQTT)';
  if (
    /node_modules\/zod\//.test(url) ||
    /\/ingest\/(transform|schemas|gps-grid|objection-gate)\.ts/.test(url)
  )
    return 'validate';
  if (/\/pseudonymizer\//.test(url) || /\/ingest\/pseudonymizer-adapter\.ts/.test(url)) return 'pseudonymise';
  if (/\/transport\/spool-log\.ts/.test(url))
    return COMMIT_FUNCTIONS.has(fn) ? 'spool commit (write+fsync)' : 'drain';
  if (/\/transport\/spool\.ts/.test(url)) {
    if (APPEND_FUNCTIONS.has(fn)) return 'spool append';
    return fn === 'onCommit' ? 'spool commit (write+fsync)' : 'drain';
  }
  if (/\/transport\/spool-frame\.ts/.test(url)) return fn === 'writeFrame' ? 'spool append' : 'drain';
  if (/\/transport\/(spool-scan|spool-legacy|spool-checkpoint)\.ts/.test(url)) return 'drain';
  // The producer's client runs inside ingest's send (a full batch goes out at once): its own stage, not MQTT's.
  if (/node_modules\/(kafkajs|node-rdkafka)\//.test(url) || /\/transport\/kafka[^/]*\.ts/.test(url))
    return 'Kafka produce';
  if (/\/store\/(influx-http|influx-v1)\.ts/.test(url) || /\/transport\/store-writer\.ts/.test(url))
    return 'HTTP write';
  return undefined;
}

export function cpuStages(profile: CpuProfile, messages: number, cpuUs: number): CpuStages {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const memo = new Map<number, Stage | null>();
  const stageFor = (id: number): Stage | null => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let stage: Stage | null = null;
    if (node) {
      const { url, functionName } = node.callFrame;
      if (functionName === '(idle)') stage = null;
      else {
        const own = stageOf(url, functionName);
        const up = parent.get(id);
        stage = own ?? (up !== undefined ? stageFor(up) : null) ?? 'other';
      }
    }
    memo.set(id, stage);
    return stage;
  };
  const us = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const stage = stageFor(id);
    if (stage === null) return;
    const dt = profile.timeDeltas[i] ?? 0;
    us[stage] += dt;
    busy += dt;
  });
  const n = Math.max(1, messages);
  const scale = busy > 0 ? cpuUs / busy : 0;
  const usPerMessage = Object.fromEntries(
    STAGES.map((s) => [s, Math.round(((us[s] * scale) / n) * 100) / 100]),
  ) as Record<Stage, number>;
  return {
    messages,
    cpuS: Math.round(cpuUs / 1e4) / 100,
    sampledS: Math.round(busy / 1e4) / 100,
    usPerMessage,
  };
}

/** One line for the console: the stages with their µs per message. */
export function stagesLine(stages: CpuStages): string {
  const total = STAGES.reduce((sum, s) => sum + stages.usPerMessage[s], 0);
  return `cpu µs/msg (main thread, ${stages.cpuS} s CPU, ${stages.sampledS} s sampled busy): ${STAGES.map((s) => `${s} ${stages.usPerMessage[s]}`).join(', ')}; total ${Math.round(total * 10) / 10}`;
}

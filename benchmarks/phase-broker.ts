/**
 * Phase B — the broker ceiling: plain aedes in its own process, one QoS 1
 * subscriber taking everything, and the same load generator publishing the
 * same messages at QoS 1, open loop, at rising rates until forwarding falls
 * short of the offered rate. The ceiling is the highest forwarded rate with
 * every message delivered: past saturation that is what the broker manages.
 */
import type { BenchSettings } from './args.ts';
import type { FleetSpec } from './bench-fleet.ts';
import { type Child, forkChild } from './ipc.ts';
import type { MqttLoadResult } from './load-process.ts';
import { type PhaseUsage, startSampler } from './proc-sampler.ts';
import { perSecond } from './stats.ts';

export interface BrokerStep {
  targetRate: number;
  published: number;
  acked: number;
  unacked: number;
  /** Messages the subscriber received. */
  forwarded: number;
  /** Forwarded messages per second, first publish to last delivery. */
  forwardedRate: number;
  /** Last delivery after the last PUBACK, ms: how far forwarding lagged behind intake. */
  deliveryLagMs: number;
  /** Published but not delivered to the subscriber within 5 s of the end, or never acknowledged. */
  lost: number;
  throttledTicks: number;
  errors: Record<string, number>;
  /** Every message delivered and forwarding kept up with the offered rate (≥ 97 %). */
  keptUp: boolean;
  /** A process that died during or right after the step (aedes overflows its stack when flooded), or null. */
  crashed: string | null;
  usage: PhaseUsage;
}

export interface BrokerPhase {
  /** Highest forwarded rate of a step that delivered every message (saturated or not). */
  ceilingMsgPerSecond: number;
  /** Highest forwarded rate of a step that kept up (≥ 97 % of the offered rate, all delivered). */
  sustainedMsgPerSecond: number;
  steps: BrokerStep[];
}

export async function runBrokerPhase(s: BenchSettings, fleet: FleetSpec, load: Child): Promise<BrokerPhase> {
  const aedes = forkChild('aedes', new URL('./aedes-process.ts', import.meta.url).pathname);
  const subscriber = forkChild('subscriber', new URL('./subscriber-process.ts', import.meta.url).pathname);
  const steps: BrokerStep[] = [];
  try {
    const { mqttUrl } = await aedes.call<{ mqttUrl: string }>('start');
    await subscriber.call('start', { mqttUrl });
    for (const rate of s.brokerRates) {
      const step = await brokerStep(s, fleet, { load, aedes, subscriber }, mqttUrl, rate);
      steps.push(step);
      process.stderr.write(
        `  broker ${rate} msg/s: forwarded ${step.forwardedRate}/s, ${step.forwarded}/${step.published}` +
          `${step.keptUp ? '' : ' — saturated'}${step.crashed ? ` — crashed: ${step.crashed.split('\n')[0]}` : ''}\n`,
      );
      if (!step.keptUp) break;
    }
    // After a crash these fail or hang; the crash is what gets recorded.
    const settle = (p: Promise<unknown>) =>
      Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5_000))]);
    await settle(subscriber.call('stop'));
    await settle(aedes.call('stop'));
  } finally {
    await subscriber.stop();
    await aedes.stop();
  }
  const lossless = steps.filter((st) => st.lost === 0);
  const failed = aedes.exitReason() ?? subscriber.exitReason();
  const last = steps.at(-1);
  // A flooded aedes may overflow its stack after the step too, while it drains or closes with a backlog.
  if (last && failed && !last.crashed) last.crashed = `after this step, while draining or closing: ${failed}`;
  return {
    ceilingMsgPerSecond: Math.max(0, ...lossless.map((st) => st.forwardedRate)),
    sustainedMsgPerSecond: Math.max(0, ...steps.filter((st) => st.keptUp).map((st) => st.forwardedRate)),
    steps,
  };
}

async function brokerStep(
  s: BenchSettings,
  fleet: FleetSpec,
  procs: { load: Child; aedes: Child; subscriber: Child },
  mqttUrl: string,
  rate: number,
): Promise<BrokerStep> {
  const sampler = startSampler({
    aedes: procs.aedes.pid,
    subscriber: procs.subscriber.pid,
    load: procs.load.pid,
    runner: process.pid,
  });
  await procs.subscriber.call('take');
  const report = await procs.load.call<MqttLoadResult>('mqttLoad', {
    mqttUrl,
    fleet,
    totalRate: rate,
    durationMs: s.brokerStepMs,
    maxInflight: rate,
    firstSeq: 0,
    sampleLogins: [],
  });
  // PUBACK comes before forwarding: wait (bounded) for the subscriber to catch up.
  type Counts = { received: number; firstAt: number; lastAt: number };
  let counts: Counts = { received: 0, firstAt: 0, lastAt: 0 };
  // A dead subscriber keeps what it last reported.
  const peek = async (): Promise<Counts> => procs.subscriber.call<Counts>('peek').catch(() => counts);
  const deadline = Date.now() + 5_000;
  counts = await peek();
  while (counts.received < report.published && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    counts = await peek();
  }
  await procs.subscriber.call('take').catch(() => undefined);
  const to = Math.max(counts.lastAt, report.lastAckAt ?? 0);
  const usage = sampler.stop({ from: report.firstPublishAt ?? report.startTime, to });
  const forwardedRate = perSecond(counts.received, report.firstPublishAt, counts.lastAt || null);
  const lost = Math.max(report.published - counts.received, report.published - report.acked);
  return {
    targetRate: rate,
    published: report.published,
    acked: report.acked,
    unacked: report.unacked,
    forwarded: counts.received,
    forwardedRate,
    deliveryLagMs: counts.lastAt - (report.lastAckAt ?? counts.lastAt),
    lost,
    throttledTicks: report.throttledTicks,
    errors: report.errors,
    keptUp: lost === 0 && forwardedRate >= 0.97 * rate,
    crashed: procs.aedes.exitReason() ?? procs.subscriber.exitReason(),
    usage,
  };
}

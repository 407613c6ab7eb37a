/**
 * librdkafka 2.0's mock cluster reports controller id 0 in its metadata, and
 * its brokers are numbered from 1, so kafkajs finds no controller — which it
 * asks only for an idempotent producer's id, a request any broker answers
 * (kafkajs says so itself in producer/eosManager). Imported for its effect
 * wherever Skjold runs against the mock (the Kafka stack, the benchmark's
 * Skjold process): when the controller the metadata names is not one of the
 * brokers, any connected broker is asked instead. A real cluster's controller
 * is always one of its brokers, so this changes nothing there.
 */
import { createRequire } from 'node:module';

interface Cluster {
  findControllerBroker(): Promise<unknown>;
  findBroker(arg: { nodeId: number }): Promise<unknown>;
  brokerPool: { metadata?: { controllerId?: number; brokers: Array<{ nodeId: number }> } };
}

const require = createRequire(import.meta.url);
const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: Cluster; patchedForMock?: boolean };

if (!Cluster.patchedForMock) {
  Cluster.patchedForMock = true;
  const original = Cluster.prototype.findControllerBroker;
  Cluster.prototype.findControllerBroker = async function findControllerBroker(this: Cluster) {
    const metadata = this.brokerPool.metadata;
    const controller = metadata?.controllerId;
    const first = metadata?.brokers[0];
    if (metadata && first && !metadata.brokers.some((b) => b.nodeId === controller)) {
      return this.findBroker({ nodeId: first.nodeId });
    }
    return original.call(this);
  };
}

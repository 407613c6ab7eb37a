import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import type { Logger } from '../lib/log.ts';
import { isTelemetryTopic } from './topics.ts';

// aedes 1.x wants a persistence whose methods return promises; the package's
// main export wraps this class in the callback API of older aedes versions.
const require = createRequire(import.meta.url);
const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (opts: {
  conn: Redis;
}) => { createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> };

/**
 * aedes 1.2 pipes the retained messages for a new subscription
 * (`stream.pipe`, lib/handlers/subscribe.js), which aedes-persistence 11's
 * memory store answers with a Readable; aedes-persistence-redis 11 answers
 * with an async generator, which has no `pipe`. The other streams aedes asks
 * for go through `pipeline` or `for await`, which take either.
 */
class RedisPersistence extends AsyncRedisPersistence {
  override createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(super.createRetainedStreamCombi(patterns));
  }
  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }
}

/** How long closing waits for Redis to acknowledge QUIT before it drops the connections. */
const CLOSE_DEADLINE_MS = 1_000;

/** How long readiness waits for this instance's own publish to come back through Redis. */
const ECHO_DEADLINE_MS = 1_000;

export interface ClusterDeps {
  redisUrl: string;
  logger: Logger;
}

/**
 * The MQTT state several Skjold instances share through Redis: aedes' emitter
 * (a publish on one instance reaches subscribers on every instance, and the
 * `$SYS/<broker>/new/clients` announcement that makes a device's new
 * connection on one instance close its old one on another) and its
 * persistence (subscriptions, sessions, QoS 1 messages queued for a device
 * and not yet acknowledged by it, retained messages, wills).
 *
 * What stays per instance: the connection-rate and per-device rate limits,
 * the credential cache, ingest and its transport. A device's telemetry is
 * ingested by the instance it is connected to, before its PUBACK, and is not
 * sent to Redis at all; Redis carries commands and aedes' own announcements.
 */
export function createCluster({ redisUrl, logger }: ClusterDeps) {
  const onError = (part: string) => (err: Error) =>
    logger.warn({ err: err.message, part }, 'Redis connection error; retrying');

  // No ready check on the subscriber connection. ioredis sends a (P)SUBSCRIBE
  // made during its handshake at once; the check's INFO is then refused on
  // what has become a subscriber connection, and ioredis reconnects without
  // the subscription it reported made: an instance deaf to the others, seen
  // only when a device's SUBACK never comes. The check waits for Redis to
  // finish loading its data, which pub/sub does not need.
  const subConn = new Redis(redisUrl, { enableAutoPipelining: true, enableReadyCheck: false });
  const pubConn = new Redis(redisUrl, { enableAutoPipelining: true });
  const mq = MQEmitterRedis({ subConn, pubConn });
  // aedes closes the emitter, which QUITs its connections and waits for them to
  // end; with Redis unreachable that would wait forever, so it gets a deadline.
  const closeEmitter = mq.close.bind(mq);
  // (A connection already down and reconnecting never emits 'end'.)
  const closeLocal = (mq as unknown as { _close(cb: () => void): void })._close.bind(mq);
  mq.close = (cb: () => void) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(force);
      cb();
    };
    const force = setTimeout(() => {
      subConn.disconnect();
      pubConn.disconnect();
      closeLocal(finish);
    }, CLOSE_DEADLINE_MS);
    closeEmitter(finish);
  };
  // Its connections' errors arrive here (an 'error' event nobody listens to would throw).
  (mq as unknown as { state: NodeJS.EventEmitter }).state.on('error', onError('emitter'));

  // Telemetry is ingested where it arrives and nothing may subscribe to it:
  // it is delivered in this process only, never published to Redis, so raw
  // payloads do not cross the network a second time and cost no Redis round trip.
  const local = mq as unknown as {
    emit(packet: { topic: string }, cb?: (err?: Error) => void): void;
    _emit(packet: { topic: string }, cb?: (err?: Error) => void): void;
  };
  const shared = local.emit.bind(local);
  local.emit = (packet, cb) =>
    isTelemetryTopic(packet.topic) ? local._emit(packet, cb) : shared(packet, cb);

  const persistenceConn = new Redis(redisUrl);
  persistenceConn.on('error', onError('persistence'));
  const persistence = new RedisPersistence({ conn: persistenceConn });

  // Readiness asks its own connection, which fails fast instead of queueing.
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
  });
  probe.on('error', () => {}); // answered through ping() instead

  // Readiness also asks the emitter: a message this instance publishes on a
  // topic of its own must come back through its subscriber connection. An
  // instance Redis answers but does not deliver to is not ready either.
  const echoTopic = `$SYS/skjold-echo/${randomBytes(8).toString('hex')}`;
  const echoes = new Map<string, () => void>();
  mq.on(echoTopic, (packet, done) => {
    echoes.get(String(packet.payload))?.();
    done();
  });
  let heard = true;

  function echo(): Promise<boolean> {
    const nonce = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const answer = (ok: boolean) => {
        clearTimeout(timer);
        echoes.delete(nonce);
        resolve(ok);
      };
      const timer = setTimeout(() => answer(false), ECHO_DEADLINE_MS).unref();
      echoes.set(nonce, () => answer(true));
      const packet = { topic: echoTopic, payload: Buffer.from(nonce) };
      local.emit(packet, (err) => {
        if (err) answer(false);
      });
    });
  }

  async function pong(): Promise<boolean> {
    if (probe.status === 'wait' || probe.status === 'end') await probe.connect();
    const reply = await Promise.race([
      probe.ping(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1_000).unref()),
    ]);
    return reply === 'PONG';
  }

  return {
    mq,
    persistence,
    /**
     * True when Redis answers PING within a second and delivers this
     * instance's own publish back to it within a second.
     */
    async ping(): Promise<boolean> {
      if (!(await pong().catch(() => false))) return false;
      const now = await echo();
      if (now !== heard) {
        if (now) logger.info('Redis delivers to this instance again');
        else
          logger.warn(
            'Redis answers but does not deliver this instance its own publish: it is not ready until it does',
          );
        heard = now;
      }
      return now;
    },
    /**
     * After aedes has closed (which closes the emitter): the persistence's and
     * the probe's connections. Not `persistence.destroy()`: it unsubscribes
     * from the emitter aedes already closed, and would wait for that forever.
     */
    async close(): Promise<void> {
      const quit = persistenceConn.quit().catch(() => undefined);
      const deadline = new Promise((r) => setTimeout(r, CLOSE_DEADLINE_MS).unref());
      await Promise.race([quit, deadline]);
      persistenceConn.disconnect();
      probe.disconnect();
    },
  };
}

export type Cluster = ReturnType<typeof createCluster>;

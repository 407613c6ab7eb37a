import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { FleetEvents } from '../fleet/events.ts';
import type { DeviceContext } from '../ingest/device-context.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { RejectionLog } from '../ingest/rejection-log.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Authenticator } from './authenticator.ts';
import type { Cluster } from './cluster.ts';
import { createFrameGuard, PacketTooLargeError } from './frame-guard.ts';
import { createSourceLimit, type SourceLimitOptions, sourceOf } from './source-limit.ts';
import { createTokenBucket, type TokenBucket } from './token-bucket.ts';
import { commandTopic, telemetryTopic } from './topics.ts';

export interface BrokerLimits {
  maxPacketBytes: number;
  /** New connections per second for the whole broker. */
  connectRate: number;
  /** Messages per second per device. */
  deviceRate: number;
  /** Per source address (IPv4, or IPv6 /64): attempts, failed logins, table size (broker/source-limit.ts). */
  perSource: Omit<SourceLimitOptions, 'now'>;
}

export interface BrokerDeps {
  authenticator: Authenticator;
  ingest: Ingest;
  metrics: Metrics;
  logger: Logger;
  /** Where refused publishes are logged: the first per device, then summaries. */
  rejections: RejectionLog;
  limits: BrokerLimits;
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** aedes' broker id; unique per instance, so takeover across instances can tell them apart. */
  id?: string;
  /** Emitter and persistence shared with other instances (broker/cluster.ts); in memory when absent. */
  shared?: Pick<Cluster, 'mq' | 'persistence'> | undefined;
  /** Told of connections, refused connections and refused publishes (fleet health). */
  fleet?: Pick<FleetEvents, 'connected' | 'disconnected' | 'rejected'>;
}

interface Session {
  ctx: DeviceContext;
  telemetry: string;
  commands: string;
  bucket: TokenBucket;
}

// [MQTT-3.2.2.3] CONNACK return codes (3.1.1).
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refusal(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The MQTT front door: aedes with Skjold's authentication, topic ACL, packet
 * size, connection-rate and per-device message-rate limits, and ingest in
 * `authorizePublish` — which aedes runs before it sends PUBACK, so a QoS 1
 * message is acknowledged only after ingest has made it safe.
 */
export async function createBroker(deps: BrokerDeps) {
  const { authenticator, ingest, metrics, logger, rejections, limits } = deps;
  const sessions = new WeakMap<Client, Session>();
  const connectBucket = createTokenBucket(limits.connectRate, limits.connectRate * 2);
  const sourceLimit = createSourceLimit(limits.perSource);
  /** The source address each connection came from, by the stream aedes sees as `client.conn`. */
  const sources = new WeakMap<object, string>();

  const aedes = await Aedes.createBroker({
    maxClientsIdLength: 64,
    ...(deps.id ? { id: deps.id } : {}),
    ...(deps.shared ? { mq: deps.shared.mq, persistence: deps.shared.persistence } : {}),
    authenticate(client, username, password, done) {
      if (!username || !password) {
        metrics.mqttConnectRefused.inc({ reason: 'missing_credentials' });
        deps.fleet?.rejected(null, 'connect_missing_credentials');
        return done(refusal('credentials required', BAD_USERNAME_OR_PASSWORD), false);
      }
      const source = sources.get(client.conn) ?? 'unknown';
      // Checked again here: the source may have been blocked while this connection was opening.
      if (sourceLimit.blocked(source)) {
        metrics.mqttConnectRefused.inc({ reason: 'source_blocked' });
        return done(refusal('too many failed logins from this address', SERVER_UNAVAILABLE), false);
      }
      authenticator.authenticate(username, password.toString('utf8')).then(
        (result) => {
          if (!result.ok) {
            metrics.mqttConnectRefused.inc({ reason: result.reason });
            // Refused logins are counted under no device: the login may be no device's at all.
            deps.fleet?.rejected(null, `connect_${result.reason}`);
            if (result.reason !== 'disabled') failedLogin(source);
            const code = result.reason === 'disabled' ? NOT_AUTHORIZED : BAD_USERNAME_OR_PASSWORD;
            return done(refusal('bad credentials', code), false);
          }
          const burst = Math.max(1, limits.deviceRate * 5);
          sessions.set(client, {
            ctx: result.ctx,
            telemetry: telemetryTopic(username),
            commands: commandTopic(username),
            bucket: createTokenBucket(limits.deviceRate, burst),
          });
          done(null, true);
        },
        (err: unknown) => {
          metrics.mqttConnectRefused.inc({ reason: 'registry_error' });
          deps.fleet?.rejected(null, 'connect_registry_error');
          logger.error({ err }, 'authentication failed on a registry error');
          done(refusal('server unavailable', SERVER_UNAVAILABLE), false);
        },
      );
    },

    authorizePublish(client, packet, done) {
      const session = client ? sessions.get(client) : undefined;
      if (!session) return done(new Error('not authenticated'));
      if (packet.topic !== session.telemetry) {
        metrics.mqttForbidden.inc({ action: 'publish' });
        deps.fleet?.rejected(session.ctx, 'forbidden_topic');
        // The topic is not logged: it may hold another device's identifier.
        rejections.rejected({
          device: session.ctx.devicePseudonym,
          tenant: session.ctx.tenantId,
          reason: 'topic',
          msg: 'publish outside the device topic refused',
        });
        return done(new Error('topic not allowed'));
      }
      // A retained message would sit in broker memory with raw identifiers in it.
      packet.retain = false;
      void admit(session, packet.payload as Buffer).then(
        () => done(null),
        (err: unknown) => {
          logger.warn(
            { device: session.ctx.devicePseudonym, err },
            'message not accepted; device will resend',
          );
          done(err instanceof Error ? err : new Error('not accepted'));
        },
      );
    },

    authorizeSubscribe(client, sub, done) {
      const session = sessions.get(client);
      if (session && sub.topic === session.commands) return done(null, sub);
      metrics.mqttForbidden.inc({ action: 'subscribe' });
      done(null, null); // SUBACK 0x80: refused, connection kept
    },
  });

  /** A wrong secret or unknown login (each cost a slow hash) from `source`. */
  function failedLogin(source: string): void {
    if (!sourceLimit.failed(source)) return;
    metrics.mqttSourcesBlocked.inc();
    // Recital 49: logging an attacking address to stop it is a legitimate
    // interest (network security); it is logged once per block, never per attempt.
    logger.warn(
      { source, failures: limits.perSource.maxFailures, seconds: limits.perSource.failureWindowMs / 1000 },
      'source address refused for a while: too many failed MQTT logins',
    );
  }

  /** Per-device rate limit by waiting (backpressure), then ingest. */
  async function admit(session: Session, payload: Buffer): Promise<void> {
    if (!session.bucket.tryTake()) {
      metrics.mqttLimited.inc({ limit: 'device_rate' });
      do await sleep(session.bucket.waitMs());
      while (!session.bucket.tryTake());
    }
    await ingest.handle(session.ctx, payload);
  }

  aedes.on('clientReady', (client) => {
    const session = sessions.get(client);
    if (!session) return;
    metrics.mqttConnections.inc();
    deps.fleet?.connected(session.ctx);
  });
  aedes.on('clientDisconnect', (client) => {
    const session = sessions.get(client);
    if (session) {
      metrics.mqttConnections.dec();
      deps.fleet?.disconnected(session.ctx);
    }
    sessions.delete(client);
  });
  aedes.on('clientError', (client, err) => {
    const device = sessions.get(client)?.ctx.devicePseudonym;
    logger.debug({ device, err: err.message }, 'client error');
  });

  function onConnection(socket: net.Socket): void {
    if (socket.destroyed) return; // dropped by the connection-rate limit
    socket.on('error', () => {}); // surfaced through aedes' client error
    const guard = createFrameGuard(limits.maxPacketBytes);
    guard.on('error', (err) => {
      // The guard also errors when aedes tears a connection down; only its own refusal counts.
      if (err instanceof PacketTooLargeError) {
        metrics.mqttLimited.inc({ limit: 'packet_size' });
        logger.warn({ bytes: err.size }, 'connection closed: MQTT packet over the size limit');
      }
      socket.destroy();
    });
    socket.pipe(guard);
    const conn = Duplex.from({ readable: guard, writable: socket });
    sources.set(conn, sourceOf(socket.remoteAddress));
    aedes.handle(conn);
  }

  const server = deps.tls ? tls.createServer({ cert: deps.tls.cert, key: deps.tls.key }) : net.createServer();
  // The rate limits see the TCP connection, before any TLS handshake is spent on
  // it. Per source first, so a flooding source uses none of the broker's rate.
  server.prependListener('connection', (socket: net.Socket) => {
    const admission = sourceLimit.admit(sourceOf(socket.remoteAddress));
    metrics.mqttSourcesTracked.set(sourceLimit.size());
    if (admission !== 'ok') {
      metrics.mqttLimited.inc({ limit: admission === 'blocked' ? 'source_blocked' : 'source_rate' });
      socket.destroy();
      return;
    }
    if (connectBucket.tryTake()) return;
    metrics.mqttLimited.inc({ limit: 'connect_rate' });
    socket.destroy();
  });
  server.on(deps.tls ? 'secureConnection' : 'connection', onConnection);

  return {
    aedes,
    server,
    listen(port: number, host: string): Promise<AddressInfo> {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server.address() as AddressInfo));
      });
    },
    /** Stops accepting, disconnects every device, and waits for the sockets to close. */
    async close(): Promise<void> {
      const closed = new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
      await closed;
    },
  };
}

export type Broker = Awaited<ReturnType<typeof createBroker>>;

import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { FleetEvents } from '../fleet/events.ts';
import type { DeviceContext } from '../ingest/device-context.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { RejectionLog } from '../ingest/rejection-log.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Authenticator } from './authenticator.ts';
import type { Cluster } from './cluster.ts';
import { attachFastPath } from './fast-path.ts';
import { createFrameGuard, guardParser, PacketTooLargeError } from './frame-guard.ts';
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
  /** A device's own telemetry bypasses aedes' emitter (broker/fast-path.ts); default on. */
  fastPath?: boolean;
}

interface Session {
  ctx: DeviceContext;
  telemetry: string;
  commands: string;
  bucket: TokenBucket;
  /** Rate limit, then ingest: resolves once the transport holds the message. */
  admit(payload: Buffer): Promise<unknown>;
}

// [MQTT-3.2.2.3] CONNACK return codes (3.1.1).
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refusal(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

// Internal announcement of a decommissioned device (its registry id, never an
// identifier), through aedes' emitter so every instance sharing it hears it.
// Devices cannot subscribe to it: authorizeSubscribe allows their command topic only.
const DECOMMISSIONED_TOPIC = '$SYS/skjold/device-decommissioned';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * aedes writes packets with mqtt-packet, which by default keeps a Buffer for
 * every packet identifier (65,536 of them, ~7 MiB of V8's old generation, and
 * twice that before a full collection). Telemetry's PUBACKs are written by the
 * fast path; aedes writes few packets that carry an identifier, so each may
 * build its own two bytes. Set before aedes writes anything. The setting is
 * the process's: mqtt.js shares the module, so the device simulator of
 * `skjold start --simulate` builds two bytes per QoS 1 publish too.
 */
mqttPacket.writeToStream.cacheNumbers = false;

/**
 * The MQTT front door: aedes with Skjold's authentication, topic ACL, packet
 * size, connection-rate and per-device message-rate limits, and ingest in
 * `authorizePublish` — which aedes runs before it sends PUBACK, so a QoS 1
 * message is acknowledged only after ingest has made it safe. A device's own
 * telemetry at QoS 0 and 1 takes the fast path (broker/fast-path.ts) with the
 * same admission and the same PUBACK rule, without aedes' emitter.
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
            const known = result.reason === 'disabled' || result.reason === 'decommissioned';
            if (!known) failedLogin(source);
            const code = known ? NOT_AUTHORIZED : BAD_USERNAME_OR_PASSWORD;
            return done(refusal('bad credentials', code), false);
          }
          const burst = Math.max(1, limits.deviceRate * 5);
          const session: Session = {
            ctx: result.ctx,
            telemetry: telemetryTopic(username),
            commands: commandTopic(username),
            bucket: createTokenBucket(limits.deviceRate, burst),
            admit: (payload) => admit(session, payload),
          };
          sessions.set(client, session);
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
      void session.admit(packet.payload as Buffer).then(
        () => {
          metrics.mqttTelemetry.inc({ path: 'broker', qos: String(packet.qos) });
          done(null);
        },
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

  /**
   * Per-device rate limit by waiting (backpressure), then ingest. Within the
   * limit it hands back ingest's own promise: no frame of its own waits for
   * the transport, holding the payload (a view into the socket's read) and
   * the session until the point is durable.
   */
  function admit(session: Session, payload: Buffer): Promise<unknown> {
    if (session.bucket.tryTake()) return ingest.handle(session.ctx, payload);
    return admitLimited(session, payload);
  }

  async function admitLimited(session: Session, payload: Buffer): Promise<void> {
    metrics.mqttLimited.inc({ limit: 'device_rate' });
    do await sleep(session.bucket.waitMs());
    while (!session.bucket.tryTake());
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

  /** The connections this instance holds now (aedes keeps them by client id; its types leave the map out). */
  const liveClients = (): Client[] =>
    Object.values((aedes as unknown as { clients: Record<string, Client> }).clients);

  /** Closes this instance's connections of a decommissioned device and stops its cached credential. */
  function evict(deviceId: string): void {
    authenticator.revoke(deviceId);
    for (const client of liveClients()) {
      const session = sessions.get(client);
      if (session?.ctx.deviceId !== deviceId) continue;
      metrics.mqttDecommissionedClosed.inc();
      logger.info({ device: session.ctx.devicePseudonym }, 'connection of a decommissioned device closed');
      client.close();
    }
  }
  await new Promise<void>((resolve) =>
    aedes.subscribe(
      DECOMMISSIONED_TOPIC,
      (packet, done) => {
        evict(String(packet.payload));
        done();
      },
      resolve,
    ),
  );

  function onConnection(socket: net.Socket): void {
    if (socket.destroyed) return; // dropped by the connection-rate limit
    socket.on('error', () => {}); // surfaced through aedes' client error
    const conn = parserGuard ? socket : guardedStream(socket);
    sources.set(conn, sourceOf(socket.remoteAddress));
    const client = aedes.handle(conn);
    // The fast path first: it reads telemetry inside aedes' parse call, which
    // the guard then wraps, so the guard sees every byte before either parser.
    if (fastPath && !attachFastPath(client, fastPathDeps)) {
      fastPath = false;
      logger.warn(
        'this aedes version has a client shape the fast path does not know; telemetry goes through aedes',
      );
    }
    if (parserGuard && !guardParser(client, limits.maxPacketBytes, (err) => refuseTooLarge(socket, err))) {
      // Unguarded, this connection must not be served; later ones get the stream guard.
      parserGuard = false;
      logger.warn(
        'this aedes version has a client shape the packet-size guard does not know; using a stream',
      );
      socket.destroy();
      return;
    }
  }

  /** The packet-size guard as a stream in front of aedes (see frame-guard.ts). */
  function guardedStream(socket: net.Socket): Duplex {
    const guard = createFrameGuard(limits.maxPacketBytes);
    guard.on('error', (err) => {
      // The guard also errors when aedes tears a connection down; only its own refusal counts.
      if (err instanceof PacketTooLargeError) refuseTooLarge(socket, err);
      else socket.destroy();
    });
    socket.pipe(guard);
    return Duplex.from({ readable: guard, writable: socket });
  }

  function refuseTooLarge(socket: net.Socket, err: PacketTooLargeError): void {
    metrics.mqttLimited.inc({ limit: 'packet_size' });
    logger.warn({ bytes: err.size }, 'connection closed: MQTT packet over the size limit');
    socket.destroy();
  }

  let parserGuard = true;
  let fastPath = deps.fastPath ?? true;
  const fastTaken = [
    metrics.mqttTelemetry.tally({ path: 'fast', qos: '0' }),
    metrics.mqttTelemetry.tally({ path: 'fast', qos: '1' }),
  ] as const;
  const fastPathDeps = {
    route: (client: Client) => sessions.get(client),
    taken: (qos: 0 | 1) => fastTaken[qos].inc(),
    failed: (client: Client, err: unknown) =>
      logger.warn(
        { device: sessions.get(client)?.ctx.devicePseudonym, err },
        'message not accepted; device will resend',
      ),
  };

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
    /**
     * A tenant's key version was destroyed: connections whose device context
     * was made under it would go on tagging points with pseudonyms nothing
     * maps any more, so they are closed; the devices reconnect under the
     * current version. Returns how many were closed.
     */
    keyVersionDestroyed(tenantId: string, version: number): number {
      let closed = 0;
      for (const client of liveClients()) {
        const ctx = sessions.get(client)?.ctx;
        if (ctx?.tenantId !== tenantId || ctx.keyVersion !== version) continue;
        client.close();
        closed++;
      }
      if (closed > 0)
        logger.info({ tenant: tenantId, version, closed }, 'connections under a destroyed key closed');
      return closed;
    },
    /** Tells every instance's broker that a device is decommissioned; resolves once announced. */
    decommissioned(deviceId: string): Promise<void> {
      return new Promise((resolve, reject) =>
        aedes.publish(
          {
            cmd: 'publish',
            topic: DECOMMISSIONED_TOPIC,
            payload: Buffer.from(deviceId),
            qos: 0,
            retain: false,
            dup: false,
          },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
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

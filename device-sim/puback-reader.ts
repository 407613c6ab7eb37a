import type { MqttClient } from 'mqtt';

/**
 * Counts a load device's PUBACKs straight off its socket, and hands every
 * other packet (PINGRESP above all: keepalive stays mqtt.js's) to mqtt.js as
 * whole packets, in order.
 *
 * mqtt.js handles each packet it reads on a tick of its own, emits two events
 * and re-arms its keepalive timer (a clearInterval and a setInterval) for every
 * PUBACK. A broker sends the load's devices tens of thousands of PUBACKs a
 * second, and the generator shares the machine with what it measures: that
 * bookkeeping took CPU from Skjold and InfluxDB in every benchmark. Here a
 * PUBACK is its four bytes checked and one call.
 *
 * Attached on every (re)connect, as mqtt.js builds a new socket each time. Returns
 * false (and changes nothing) when the client does not have the shape this was
 * written for; the caller then counts PUBACKs from mqtt.js' `packetreceive`.
 */
export function readPubacks(client: MqttClient, onAck: () => void): boolean {
  if (!attach(client, onAck)) return false;
  client.on('connect', () => {
    attach(client, onAck);
  });
  return true;
}

interface PipedState {
  _readableState?: { pipes?: unknown };
}

function attach(client: MqttClient, onAck: () => void): boolean {
  const stream = client.stream as unknown as (NodeJS.ReadableStream & PipedState) | undefined;
  if (!stream) return false;
  // mqtt.js 5 (client.js, connect()) pipes the socket into one Writable that parses;
  // a socket read here already has no pipe, so it is never attached twice.
  const pipes = stream._readableState?.pipes;
  const parser = Array.isArray(pipes) && pipes.length === 1 ? (pipes[0] as NodeJS.WritableStream) : undefined;
  if (typeof parser?.write !== 'function' || typeof stream.unpipe !== 'function') return false;
  stream.unpipe(parser);
  const frames = createFramer(onAck, (packets) => parser.write(packets));
  stream.on('data', frames);
  stream.resume(); // unpipe paused it
  return true;
}

/**
 * Splits what a socket reads into MQTT packets [MQTT-2.2]: a PUBACK from the
 * server (0x40, remaining length 2) is counted, runs of any other packets are
 * passed on whole. A remaining length longer than four bytes is malformed: from
 * there on everything is passed on, and mqtt.js' parser reports it.
 */
export function createFramer(onAck: () => void, pass: (bytes: Buffer) => void): (chunk: Buffer) => void {
  let held: Buffer | undefined; // the start of a packet the last read cut off
  let passAll = false;
  return (chunk) => {
    if (passAll) return pass(chunk);
    const buf = held ? Buffer.concat([held, chunk]) : chunk;
    held = undefined;
    let at = 0;
    let others = -1; // where the current run of other packets began
    while (at < buf.length) {
      const end = packetEnd(buf, at);
      if (end === -2) {
        passAll = true;
        others = others < 0 ? at : others;
        at = buf.length;
        break;
      }
      if (end === -1 || end > buf.length) break;
      if (buf[at] === 0x40 && end - at === 4) {
        if (others >= 0) pass(buf.subarray(others, at));
        others = -1;
        onAck();
      } else if (others < 0) {
        others = at;
      }
      at = end;
    }
    if (others >= 0) pass(buf.subarray(others, at));
    if (at < buf.length) held = Buffer.from(buf.subarray(at));
  };
}

/** End of the packet starting at `at`; -1 when its header is cut off, -2 when malformed. */
function packetEnd(buf: Buffer, at: number): number {
  let length = 0;
  let i = at + 1;
  // [MQTT-2.2.3] Remaining Length: seven bits per byte, at most four bytes.
  for (let shift = 1; ; shift *= 128) {
    if (i >= buf.length) return -1;
    const digit = buf[i++] as number;
    length += (digit & 0x7f) * shift;
    if ((digit & 0x80) === 0) break;
    if (shift === 128 ** 3) return -2;
  }
  return i + length;
}

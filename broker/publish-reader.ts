/**
 * Reads one MQTT 3.1/3.1.1 PUBLISH (QoS 0 or 1) to a known topic straight
 * from a socket read, without mqtt-packet's parser: it copies each packet
 * into a BufferList and calls `debug` (which builds its argument array even
 * when disabled) a dozen times per packet — together ~17 % of the bytes
 * Skjold allocated per message. Anything else — another packet type, QoS 2,
 * another topic, a packet cut off by the end of the read, a malformed length —
 * is not read here: the caller hands those bytes to mqtt-packet, which parses
 * (or refuses) them as before.
 */

/** What `readPublish` found; reused between calls, so read it before the next. */
export interface PublishFields {
  qos: 0 | 1;
  /** 0 for QoS 0. */
  messageId: number;
  payloadStart: number;
  /** End of the packet: where the next one starts. */
  end: number;
}

// [MQTT-2.2] Fixed header: packet type in the high nibble (3 = PUBLISH); DUP, QoS, RETAIN below.
const PUBLISH = 3;

/**
 * Reads the packet at `at` into `out` and returns true if it is a complete
 * QoS 0 or 1 PUBLISH to exactly `topic` (its UTF-8 bytes); false, with `out`
 * undefined in meaning, otherwise.
 */
export function readPublish(buf: Buffer, at: number, topic: Buffer, out: PublishFields): boolean {
  if (at >= buf.length) return false;
  const first = buf[at] as number;
  if (first >> 4 !== PUBLISH) return false;
  const qos = (first >> 1) & 0x03;
  if (qos > 1) return false;
  // [MQTT-2.2.3] Remaining length: 1 to 4 bytes, 7 bits each, high bit = more follow.
  let length = 0;
  let multiplier = 1;
  let pos = at + 1;
  for (let i = 0; ; i++) {
    if (i === 4 || pos >= buf.length) return false;
    const byte = buf[pos++] as number;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) break;
    multiplier *= 0x80;
  }
  const end = pos + length;
  if (end > buf.length) return false;
  // [MQTT-3.3.2] Topic name: 2-byte length, UTF-8 bytes; then the packet identifier for QoS > 0.
  if (pos + 2 > end) return false;
  const topicLength = buf.readUInt16BE(pos);
  pos += 2;
  if (topicLength !== topic.length || pos + topicLength > end) return false;
  if (topic.compare(buf, pos, pos + topicLength) !== 0) return false;
  pos += topicLength;
  let messageId = 0;
  if (qos === 1) {
    if (pos + 2 > end) return false;
    messageId = buf.readUInt16BE(pos);
    pos += 2;
  }
  out.qos = qos === 1 ? 1 : 0;
  out.messageId = messageId;
  out.payloadStart = pos;
  out.end = end;
  return true;
}

/**
 * The topic scheme. A device publishes telemetry only to its own topic and may
 * subscribe only to its own command topic; the username in the topic is the
 * login identifier it authenticated with.
 *
 *   skjold/d/<login>/telemetry   device → Skjold
 *   skjold/d/<login>/commands    Skjold → device
 */
export const TOPIC_PREFIX = 'skjold/d/';

export function telemetryTopic(login: string): string {
  return `${TOPIC_PREFIX}${login}/telemetry`;
}

export function commandTopic(login: string): string {
  return `${TOPIC_PREFIX}${login}/commands`;
}

/** True for `skjold/d/<login>/telemetry`: one level between prefix and suffix. */
export function isTelemetryTopic(topic: string): boolean {
  if (!topic.startsWith(TOPIC_PREFIX) || !topic.endsWith('/telemetry')) return false;
  const login = topic.slice(TOPIC_PREFIX.length, -'/telemetry'.length);
  return login.length > 0 && !login.includes('/');
}

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

/**
 * Where "now" comes from. Retention, request deadlines and the audit log take a
 * Clock instead of calling `new Date()`, so tests can move a contract past its
 * end + 1 year instead of waiting for it.
 */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/** A clock tests set and advance by hand. */
export function manualClock(
  start: Date | string,
): Clock & { set(at: Date | string): void; advanceDays(days: number): void } {
  let now = new Date(start);
  const clock = (() => new Date(now)) as Clock & {
    set(at: Date | string): void;
    advanceDays(days: number): void;
  };
  clock.set = (at) => {
    now = new Date(at);
  };
  clock.advanceDays = (days) => {
    now = new Date(now.getTime() + days * 86_400_000);
  };
  return clock;
}

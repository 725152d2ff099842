/**
 * Limits and timings of consumer groups (kept here, next to the groups code, rather than in the
 * package's constants.ts, which other work edits too). Relations are asserted when this module
 * loads.
 */

/** A member silent for longer is expired by the controller and its leases reassigned. */
export const GROUP_SESSION_TIMEOUT_MS_DEFAULT = 10_000;
export const GROUP_SESSION_TIMEOUT_MS_MIN = 3_000;
export const GROUP_SESSION_TIMEOUT_MS_MAX = 300_000;
/** How often a worker heartbeats: well under the shortest session timeout. */
export const GROUP_HEARTBEAT_INTERVAL_MS = 1_000;
/** How often group 0's leader looks for members past their session timeout. */
export const GROUP_EXPIRY_POLL_MS = 250;
/** Group and member names: 1 to this many characters of [a-zA-Z0-9_.-]. */
export const GROUP_NAME_LENGTH_MAX = 128;
export const GROUP_MEMBER_ID_LENGTH_MAX = 128;
/** Consumer groups per stream, and members per group (each heartbeats into group 0). */
export const GROUPS_PER_STREAM_MAX = 20;
export const GROUP_MEMBERS_MAX = 100;
/** Sequence numbers are decimal strings of at most this many digits. */
export const SEQUENCE_NUMBER_DIGITS_MAX = 128;

if (GROUP_HEARTBEAT_INTERVAL_MS * 3 > GROUP_SESSION_TIMEOUT_MS_MIN) {
  throw new Error("GROUP_HEARTBEAT_INTERVAL_MS must allow three heartbeats in the shortest session timeout");
}
if (GROUP_EXPIRY_POLL_MS >= GROUP_SESSION_TIMEOUT_MS_MIN) {
  throw new Error("GROUP_EXPIRY_POLL_MS must be below GROUP_SESSION_TIMEOUT_MS_MIN");
}
if (
  GROUP_SESSION_TIMEOUT_MS_DEFAULT < GROUP_SESSION_TIMEOUT_MS_MIN ||
  GROUP_SESSION_TIMEOUT_MS_DEFAULT > GROUP_SESSION_TIMEOUT_MS_MAX
) {
  throw new Error("GROUP_SESSION_TIMEOUT_MS_DEFAULT must lie within [MIN, MAX]");
}

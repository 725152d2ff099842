/**
 * Stream names for tests that share one cluster: unique within the process (a counter) and across
 * processes (the pid), so tests never see each other's streams.
 */
let counter = 0;

/** `<prefix>-<pid>-<n>`, a valid Kinesis stream name when the prefix is one. */
export function uniqueStreamName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

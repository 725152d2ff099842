/**
 * @sluice/broker — The multi-Raft host: replicas, the persist/send/apply loop, the peer transport, the shard state machine.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/broker";

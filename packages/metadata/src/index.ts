/**
 * @sluice/metadata — Raft group 0: streams, shards, placement, liveness, consumers; its leader runs the controller.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/metadata";

/**
 * @sluice/gateway — The public front door: the gRPC API and the Kinesis HTTP API, routing, throttling, iterators.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/gateway";

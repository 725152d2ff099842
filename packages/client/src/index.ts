/**
 * @sluice/client — The TypeScript SDK: producer, consumer and consumer-group worker.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/client";

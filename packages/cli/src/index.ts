/**
 * @sluice/cli — The sluice command and the node process entry point.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/cli";

/**
 * @sluice/storage — The node's disk: append-only segment files for records, LevelDB for small state and the index.
 *
 * This package is laid out by the workspace issue and filled in by the issues that own it.
 */
export const PACKAGE_NAME = "@sluice/storage";

/** The logger the metadata service writes to (the node's JSON logger fits). */
export interface MetadataLogger {
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const SILENT_LOGGER: MetadataLogger = Object.freeze({
  info: () => undefined,
  warn: () => undefined,
});

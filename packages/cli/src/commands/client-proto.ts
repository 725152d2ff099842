/** The SDK and the public API's generated types, as the commands use them. */
export type { SluiceClient } from "@sluice/client";
export { streams as streamsProto } from "@sluice/proto";

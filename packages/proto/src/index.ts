/**
 * @sluice/proto — the generated protobuf types and grpc-js service definitions of Sluice's APIs.
 * Generated from proto/ by `pnpm proto:gen`; CI checks the generated code is fresh. This package
 * imports nothing of ours. Its one hand-written module, `@sluice/proto/wire`, holds the protobuf
 * wire-format pieces the hand codecs of the hot calls share (gateway and client).
 */
export * as errors from "./gen/sluice/v1/errors.js";
export * as groups from "./gen/sluice/v1/groups.js";
export * as streams from "./gen/sluice/v1/streams.js";

/** The protobuf package of the public API. */
export const PUBLIC_API_PACKAGE = "sluice.v1";
export * as health from "./gen/grpc/health/v1/health.js";
export * as admin from "./gen/sluice/admin/v1/admin.js";
export * as forward from "./gen/sluice/peer/v1/forward.js";
export * as peer from "./gen/sluice/peer/v1/peer.js";

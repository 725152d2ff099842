/**
 * Limits and defaults of the `sluice` command and the node process, each with its unit in the
 * name. Where limits relate, the relation is asserted when the module loads.
 */
import assert from "node:assert/strict";
import { constants as brokerConstants } from "@sluice/broker";

/** Exit status of a node that refused to start because of its configuration or environment. */
export const EXIT_CONFIG = 2;
/** Exit status for a usage error of the command line. */
export const EXIT_USAGE = 64;
/** Exit status of a node whose graceful shutdown missed its deadline or failed. */
export const EXIT_SHUTDOWN_FAILED = 1;

/** Node N listens by default on these bases plus N: 50051, 4567, 9464 and 7401 for node 1. */
export const GRPC_PORT_BASE_DEFAULT = 50_050;
export const HTTP_PORT_BASE_DEFAULT = 4_566;
export const METRICS_PORT_BASE_DEFAULT = 9_463;
export const PEER_PORT_BASE_DEFAULT = 7_400;
/** The interface every default listen address binds to. */
export const LISTEN_HOST_DEFAULT = "127.0.0.1";
export const CLUSTER_ID_DEFAULT = "sluice-local";
export const ZONE_DEFAULT = "local";

/** Node ids are positive uint32s; a cluster of this version has at most this many nodes. */
export const NODE_ID_MAX = 0xffff_ffff;
export const CLUSTER_NODES_MAX = 64;
export const CLUSTER_ID_LENGTH_MAX = 64;
export const ZONE_LENGTH_MAX = 64;

/** A graceful shutdown (leadership transfer, flush, close) that takes longer exits with 1. */
export const SHUTDOWN_DEADLINE_MS = 20_000;

/** Messages on the public gRPC port: an admin Append carries at most APPEND_BYTES_MAX of data. */
export const APPEND_RECORDS_MAX = 500;
export const APPEND_BYTES_MAX = 5 * 1_048_576;
export const PARTITION_KEY_LENGTH_MAX = 256;
export const READ_RECORDS_DEFAULT = 1_000;
export const READ_RECORDS_MAX = 10_000;
export const READ_BYTES_DEFAULT = 4 * 1_048_576;
export const READ_BYTES_MAX = 8 * 1_048_576;
/** gRPC message size limit of the public port, with room for framing around the payloads. */
export const GRPC_MESSAGE_BYTES_MAX = 32 * 1_048_576;
/**
 * HTTP/2 receive window the public port grants each call (and four times that to a connection).
 * HTTP/2's default of 64 KiB is smaller than one 64 KiB append with its envelope, so every append
 * waited a round trip through this node's event loop for a window update, and the appends of one
 * client connection arrived one at a time (measured: about 100 a second, whatever the number in
 * flight).
 */
export const GRPC_STREAM_WINDOW_BYTES = 4 * 1_048_576;

/** `sluice cluster up` waits this long for all three nodes to serve. */
export const CLUSTER_UP_DEADLINE_MS = 60_000;
/** `sluice cluster down` waits this long after SIGTERM before sending SIGKILL. */
export const CLUSTER_DOWN_DEADLINE_MS = 30_000;
/** How long one health probe of `cluster up/status` may take. */
export const HEALTH_PROBE_DEADLINE_MS = 1_000;
/** Interval between two checks of a condition that `cluster up/down` waits for. */
export const CLUSTER_POLL_INTERVAL_MS = 100;
/** The local cluster has three nodes, one per zone. */
export const LOCAL_CLUSTER_ZONES = ["a", "b", "c"] as const;

assert(APPEND_BYTES_MAX + APPEND_RECORDS_MAX * (PARTITION_KEY_LENGTH_MAX * 4 + 64) < GRPC_MESSAGE_BYTES_MAX);
assert(READ_BYTES_MAX < GRPC_MESSAGE_BYTES_MAX);
assert(READ_BYTES_DEFAULT <= READ_BYTES_MAX && READ_RECORDS_DEFAULT <= READ_RECORDS_MAX);
assert(GRPC_PORT_BASE_DEFAULT + CLUSTER_NODES_MAX < 65_536);
// The admin API's limits stay within what the broker accepts, so a valid admin call never gets
// the broker's INVALID_ARGUMENT.
assert(APPEND_RECORDS_MAX <= brokerConstants.APPEND_RECORDS_MAX);
assert(APPEND_BYTES_MAX <= brokerConstants.APPEND_BYTES_MAX);
assert(PARTITION_KEY_LENGTH_MAX <= brokerConstants.PARTITION_KEY_CHARS_MAX);
assert(READ_RECORDS_MAX <= brokerConstants.READ_RECORDS_MAX);
assert(READ_BYTES_MAX <= brokerConstants.READ_BYTES_MAX);
assert(GRPC_STREAM_WINDOW_BYTES * 4 < 2 ** 31, "HTTP/2 windows are below 2^31 bytes");

/** The public API's service, as gRPC health names it: SERVING once the metadata service has a quorum. */
export const STREAMS_SERVICE_NAME = "sluice.v1.StreamsService";

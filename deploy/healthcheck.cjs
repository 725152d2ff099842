// The image's HEALTHCHECK: asks the node's gRPC health service (grpc.health.v1.Health/Check) on
// 127.0.0.1:50051 (or SLUICE_HEALTH_ADDRESS), over TLS when the node has it, about sluice.v1.StreamsService (or
// SLUICE_HEALTH_SERVICE); exits 0 when it answers SERVING, 1 otherwise or after 2.5 s.
// The request and the answer are encoded by hand (one string field; one enum field), so this
// needs nothing but @grpc/grpc-js.
"use strict";
const grpc = require("@grpc/grpc-js");

const address = process.env.SLUICE_HEALTH_ADDRESS || "127.0.0.1:50051";
const service = process.env.SLUICE_HEALTH_SERVICE || "sluice.v1.StreamsService";
const DEADLINE_MS = 2500;
const SERVING = 1;

function encodeRequest(name) {
  const text = Buffer.from(name, "utf8");
  if (text.length > 127) throw new Error("service name too long");
  return Buffer.concat([Buffer.from([0x0a, text.length]), text]);
}

function decodeStatus(bytes) {
  // HealthCheckResponse { ServingStatus status = 1; }: tag 0x08 then a one-byte varint.
  return bytes.length >= 2 && bytes[0] === 0x08 ? bytes[1] : 0;
}

// With TLS on (SLUICE_TLS_DIR or SLUICE_TLS_CA, as the node reads them) the probe trusts that CA.
const caFile =
  process.env.SLUICE_TLS_CA || (process.env.SLUICE_TLS_DIR ? `${process.env.SLUICE_TLS_DIR}/ca.crt` : "");
const channelCredentials = caFile
  ? grpc.credentials.createSsl(require("node:fs").readFileSync(caFile))
  : grpc.credentials.createInsecure();
const client = new grpc.Client(address, channelCredentials);
client.makeUnaryRequest(
  "/grpc.health.v1.Health/Check",
  (value) => value,
  (value) => value,
  encodeRequest(service),
  { deadline: Date.now() + DEADLINE_MS },
  (error, response) => {
    client.close();
    if (error) {
      console.error(`unhealthy: ${error.message}`);
      process.exit(1);
    }
    const status = decodeStatus(response);
    if (status !== SERVING) {
      console.error(`unhealthy: ${service} status ${status}`);
      process.exit(1);
    }
    process.exit(0);
  },
);

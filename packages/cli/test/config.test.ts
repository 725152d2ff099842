// Proves the node's configuration is read from flags and SLUICE_* variables (flags win), gets
// the documented defaults, and that each misconfiguration is refused with a typed error naming it.
import { describe, expect, it } from "vitest";
import { parseHostPort, parseNodeConfig, parsePeers } from "../src/node/config.js";
import { StartupError, StartupErrorCode } from "../src/node/errors.js";

const PEERS = "1=127.0.0.1:7401,2=127.0.0.1:7402,3=127.0.0.1:7403";

function refusal(argv: readonly string[], env: NodeJS.ProcessEnv = {}): StartupError {
  try {
    parseNodeConfig(argv, env);
  } catch (error) {
    if (error instanceof StartupError) return error;
    throw error;
  }
  throw new Error("expected the configuration to be refused");
}

describe("node configuration", () => {
  it("derives the documented default ports from the node id", () => {
    const config = parseNodeConfig(["--node-id", "2", "--peers", PEERS], {});
    expect(config.grpcListen).toEqual({ host: "127.0.0.1", port: 50052 });
    expect(config.httpListen).toEqual({ host: "127.0.0.1", port: 4568 });
    expect(config.metricsListen).toEqual({ host: "127.0.0.1", port: 9465 });
    expect(config.peerListen).toEqual({ host: "127.0.0.1", port: 7402 });
    expect(config.peers.size).toBe(3);
    expect(config.dataDir.endsWith("/data/node-2")).toBe(true);
  });

  it("reads SLUICE_* variables, and a flag wins over its variable", () => {
    const env = { SLUICE_NODE_ID: "3", SLUICE_PEERS: PEERS, SLUICE_ZONE: "c", SLUICE_DATA_DIR: "/tmp/n3" };
    const fromEnv = parseNodeConfig([], env);
    expect(fromEnv.nodeId).toBe(3);
    expect(fromEnv.zone).toBe("c");
    expect(fromEnv.dataDir).toBe("/tmp/n3");
    expect(parseNodeConfig(["--zone=b"], env).zone).toBe("b");
  });

  it("refuses a missing node id, a missing or malformed peer list", () => {
    expect(refusal(["--peers", PEERS]).code).toBe(StartupErrorCode.InvalidConfig);
    expect(refusal(["--node-id", "1"]).code).toBe(StartupErrorCode.InvalidPeers);
    expect(refusal(["--node-id", "1", "--peers", "1=localhost"]).message).toContain("host:port");
    expect(refusal(["--node-id", "0", "--peers", PEERS]).message).toContain("--node-id");
  });

  it("refuses a peer list without this node, with a node id twice, or an address twice", () => {
    expect(refusal(["--node-id", "4", "--peers", PEERS]).message).toContain("does not list this node (id 4)");
    expect(refusal(["--node-id", "1", "--peers", "1=a:1,1=b:2"]).message).toContain("node id 1 twice");
    expect(refusal(["--node-id", "1", "--peers", "1=a:1,2=a:1"]).message).toContain("same address");
  });

  it("refuses two listeners on one port and unknown flags", () => {
    expect(
      refusal(["--node-id", "1", "--peers", PEERS, "--grpc-listen", "127.0.0.1:7401"]).message,
    ).toContain("both use port 7401");
    expect(refusal(["--node-id", "1", "--peers", PEERS, "--frobnicate", "x"]).message).toContain(
      "--frobnicate",
    );
  });

  it("parses IPv6 and host names in addresses", () => {
    expect(parseHostPort("[::1]:7401", "x")).toEqual({ host: "::1", port: 7401 });
    expect(parseHostPort("node-1.local:80", "x")).toEqual({ host: "node-1.local", port: 80 });
    expect(() => parseHostPort("host:99999", "x")).toThrow(StartupError);
    expect(parsePeers(" 1=a:1 , 2=b:2 ", "--peers").get(2)).toEqual({ host: "b", port: 2 });
  });
});

// Proves invalid RaftOptions are rejected once, at construction, with a message naming the field and the rule.
import {
  defaultOptions,
  InvalidOptionsError,
  MemoryStorage,
  RaftNode,
  type RaftOptions,
  SeededRandom,
} from "raft-ts";
import { describe, expect, it } from "vitest";

function base(): RaftOptions {
  return {
    id: 1,
    storage: new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } }),
    random: new SeededRandom(1),
  };
}

describe("RaftOptions validation", () => {
  it("accepts the defaults", () => {
    expect(() => new RaftNode(base())).not.toThrow();
    expect(defaultOptions()).toMatchObject({
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: true,
      checkQuorum: true,
    });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ["id 0", { id: 0 }, /id must be an integer in \[1,/],
    ["a fractional id", { id: 1.5 }, /id must be an integer/],
    ["no storage", { storage: undefined }, /storage must implement LogStorage/],
    ["no random source", { random: {} }, /random must be a RandomSource/],
    ["zero election ticks", { electionTicks: 0 }, /electionTicks must be an integer/],
    [
      "heartbeat not shorter than election",
      { electionTicks: 5, heartbeatTicks: 5 },
      /heartbeatTicks \(5\) must be less than electionTicks \(5\)/,
    ],
    ["a negative applied index", { appliedIndex: -1 }, /appliedIndex must be a non-negative integer/],
    ["an applied index past the log", { appliedIndex: 7 }, /appliedIndex 7 is past the stored last index 0/],
    ["zero append bytes", { maxAppendBytes: 0 }, /maxAppendBytes must be an integer/],
    [
      "a huge inflight window",
      { maxInflightAppends: 1e9 },
      /maxInflightAppends must be an integer in \[1, 65536\]/,
    ],
    [
      "a proposal larger than the uncommitted budget",
      { maxProposalBytes: 10, maxUncommittedBytes: 5 },
      /maxProposalBytes \(10\) must not exceed maxUncommittedBytes \(5\)/,
    ],
    ["a non-boolean preVote", { preVote: "yes" }, /preVote must be a boolean/],
    [
      "an unknown read-only option",
      { readOnlyOption: "fast" },
      /readOnlyOption must be one of safe, lease-based/,
    ],
    [
      "lease reads without checkQuorum",
      { readOnlyOption: "lease-based", checkQuorum: false },
      /lease-based requires checkQuorum/,
    ],
    ["an unknown bug switch", { bugs: ["off-by-one"] }, /unknown bug switch off-by-one/],
    ["a duplicate peer", { peers: [1, 2, 2] }, /node 2 appears twice/],
    ["a learner that is also a peer", { peers: [1, 2], learners: [2] }, /node 2 appears twice/],
    ["a bad peer id", { peers: [0] }, /peers entry must be an integer/],
  ])("rejects %s", (_, override, message) => {
    let error: unknown;
    try {
      new RaftNode({ ...base(), ...override } as RaftOptions);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as Error).message).toMatch(message);
    expect(error).toMatchObject({ code: "INVALID_OPTIONS", retriable: false });
  });
});

import type { SeededRandom } from "../../random.js";

/**
 * How often each kind of event happens in a simulated run, and how hostile the network and the
 * disk are. Each seed draws its own profile (swarm testing: some runs are calm, some crash a node
 * every few steps, some never drop a message but partition constantly), which finds more bugs
 * than one fixed mix. Weights are relative; probabilities are in [0, 1].
 */
export interface FaultProfile {
  /** Deliver one in-flight message. */
  deliverWeight: number;
  /** Run the next stage (or all stages) of one node's Ready processing. */
  readyWeight: number;
  /** Tick every running node once. */
  tickAllWeight: number;
  /** Tick one node (clocks drift). */
  tickOneWeight: number;
  /** Propose one entry, or a batch, mostly at the leader. */
  proposeWeight: number;
  crashWeight: number;
  /** A crash hits the leader (the node with the most to lose) rather than a random node. */
  crashLeaderProbability: number;
  /**
   * When a leader's commit index moves, it crashes at the next step, before it can tell anyone
   * (the worst moment: the commit is known to the leader alone).
   */
  crashAfterCommitProbability: number;
  restartWeight: number;
  partitionWeight: number;
  /** A partition cuts the leader off from everyone (it may keep accepting proposals). */
  isolateLeaderProbability: number;
  healWeight: number;
  transferWeight: number;
  confChangeWeight: number;
  compactWeight: number;
  /** Force a node to campaign now. */
  campaignWeight: number;
  /** Ask a node (mostly the leader) for a linearizable read (ReadIndex). */
  readIndexWeight: number;

  /** A message is lost on send. */
  dropProbability: number;
  /** A message is delivered twice. */
  duplicateProbability: number;
  /** A delivery takes a random in-flight message rather than the oldest. */
  reorderProbability: number;
  /** A message is held back for up to `maxDelaySteps` steps. */
  delayProbability: number;
  maxDelaySteps: number;
  /** A Ready event runs every remaining stage at once rather than one. */
  readyAllStagesProbability: number;
  /** A crash during a persist writes only a prefix of the entries (a torn write). */
  tornPersistProbability: number;
  /** After applying, the application makes its state durable (its restart checkpoint). */
  checkpointProbability: number;
  /** Dropping a message because of a partition tells the sender (reportUnreachable). */
  reportUnreachableProbability: number;

  /** Raft configuration of the run. */
  electionTicks: number;
  heartbeatTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxAppendBytes: number;
  maxInflightAppends: number;
  /** Committed entry bytes per Ready (small values page the apply stream). */
  maxCommittedBytesPerReady: number;
  /** The leader's budget of uncommitted bytes (small values make it drop proposals). */
  maxUncommittedBytes: number;
  /** Followers forward proposals to the leader. */
  forwardProposals: boolean;
  /**
   * How the group is created. true: founders start empty with `peers`, which writes the
   * initial members into the log (etcd's bootstrap), and a joining server starts empty. false:
   * founders start from a storage holding the configuration, and a joining server is created
   * with the group's current configuration (as `RaftOptions.peers` documents).
   */
  bootstrapWithPeers: boolean;
  /** Largest proposal payload in bytes (at least 4). */
  maxProposalBytes: number;
  /** Largest number of entries in one proposeBatch. */
  maxBatchEntries: number;
}

/** Largest proposal payload a simulated client sends, in bytes. */
export const MAX_SIM_PROPOSAL_BYTES = 64;

function pick<T>(rng: SeededRandom, values: readonly T[]): T {
  return values[rng.nextInt(values.length)]!;
}

function chance(rng: SeededRandom, probability: number): boolean {
  return rng.nextFloat() < probability;
}

/** The profile of one seed, drawn from the seed's own random stream. */
export function randomFaultProfile(rng: SeededRandom): FaultProfile {
  const faulty = chance(rng, 0.85);
  const electionTicks = pick(rng, [3, 4, 5, 6, 8]);
  return {
    deliverWeight: 40,
    readyWeight: 30,
    tickAllWeight: pick(rng, [1, 2, 3, 4]),
    tickOneWeight: pick(rng, [0, 0.5, 1]),
    proposeWeight: pick(rng, [3, 6, 10]),
    crashWeight: faulty ? pick(rng, [0, 0.3, 0.6, 1.2, 2.5]) : 0,
    crashLeaderProbability: pick(rng, [0, 0.3, 0.7]),
    crashAfterCommitProbability: faulty ? pick(rng, [0, 0, 0.02, 0.1]) : 0,
    restartWeight: pick(rng, [1, 2, 4]),
    partitionWeight: faulty ? pick(rng, [0, 0.2, 0.5, 1]) : 0,
    isolateLeaderProbability: pick(rng, [0, 0.3, 0.7]),
    healWeight: pick(rng, [0.5, 1, 2]),
    transferWeight: pick(rng, [0, 0.2, 0.5]),
    confChangeWeight: pick(rng, [0, 0.3, 0.8]),
    compactWeight: pick(rng, [0, 0.5, 1.5]),
    campaignWeight: pick(rng, [0, 0.1, 0.4]),
    readIndexWeight: pick(rng, [0, 1, 3]),
    dropProbability: faulty ? pick(rng, [0, 0.01, 0.05, 0.15]) : 0,
    duplicateProbability: faulty ? pick(rng, [0, 0.01, 0.05]) : 0,
    reorderProbability: faulty ? pick(rng, [0, 0.1, 0.3, 0.6]) : 0,
    delayProbability: faulty ? pick(rng, [0, 0.05, 0.2]) : 0,
    maxDelaySteps: pick(rng, [5, 20, 60]),
    readyAllStagesProbability: pick(rng, [0.2, 0.5, 0.8]),
    tornPersistProbability: pick(rng, [0, 0.3]),
    checkpointProbability: pick(rng, [0.1, 0.5, 1]),
    reportUnreachableProbability: pick(rng, [0, 0.5]),
    electionTicks,
    heartbeatTicks: pick(
      rng,
      [1, 1, 2].filter((h) => h < electionTicks),
    ),
    preVote: chance(rng, 0.75),
    checkQuorum: chance(rng, 0.75),
    maxAppendBytes: pick(rng, [16, 256, 4096, 1_048_576]),
    maxInflightAppends: pick(rng, [1, 2, 4, 256]),
    maxCommittedBytesPerReady: pick(rng, [1, 64, 1_048_576]),
    maxUncommittedBytes: pick(rng, [MAX_SIM_PROPOSAL_BYTES, 1024, 64 * 1_048_576]),
    forwardProposals: chance(rng, 0.25),
    bootstrapWithPeers: chance(rng, 0.5),
    maxProposalBytes: pick(rng, [4, 16, MAX_SIM_PROPOSAL_BYTES]),
    maxBatchEntries: pick(rng, [1, 4, 16]),
  };
}

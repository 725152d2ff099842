import {
  DEFAULT_ELECTION_TICKS,
  DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_MAX_APPEND_BYTES,
  DEFAULT_MAX_COMMITTED_BYTES_PER_READY,
  DEFAULT_MAX_PROPOSAL_BYTES,
  DEFAULT_MAX_UNCOMMITTED_BYTES,
  MAX_ELECTION_TICKS,
  MAX_INFLIGHT_APPENDS,
  MAX_INFLIGHT_APPENDS_LIMIT,
  MAX_READIES_IN_FLIGHT_LIMIT,
} from "./constants.js";
import { InvalidOptionsError } from "./errors.js";
import type { LogStorage } from "./storage.js";
import type { NodeId, RandomSource } from "./types.js";

/**
 * Switches that re-introduce classic Raft bugs, so tests can show the simulation's checkers
 * catch each one. Never set in production; each is off unless named here.
 */
export const RaftBug = {
  /** Send a vote grant before the vote is persisted (it goes in `messages`, not `messagesAfterPersist`). */
  VoteReplyBeforePersist: "vote-reply-before-persist",
  /** Decide "at least as up to date" by last index only, ignoring the last term. */
  UpToDateByIndexOnly: "up-to-date-by-index-only",
  /** Commit an entry of a previous term once it is on a majority (Raft paper, figure 8). */
  CommitPreviousTermByCount: "commit-previous-term-by-count",
  /** Acknowledge an append before the entries are persisted. */
  AppendAckBeforePersist: "append-ack-before-persist",
  /** The leader counts its own unpersisted entries toward the commit quorum. */
  LeaderCountsSelfBeforeDurable: "leader-counts-self-before-durable",
} as const;
export type RaftBug = (typeof RaftBug)[keyof typeof RaftBug];

export const ReadOnlyOption = {
  /** ReadIndex confirmed by a heartbeat round to a quorum (linearizable, always safe). */
  Safe: "safe",
  /** ReadIndex served from the leader lease (needs bounded clock drift; requires checkQuorum). */
  LeaseBased: "lease-based",
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

export interface RaftOptions {
  /** This node's id (> 0). */
  id: NodeId;
  /** The stable log; its initial state (hard state, conf state) seeds the node. */
  storage: LogStorage;
  /** Injected randomness for election timeouts. */
  random: RandomSource;
  /**
   * The voters of a brand-new group, used only when `storage` is empty (no entries, no term, no
   * configuration). The node then writes them at the head of its log as committed ConfChange
   * entries of term 1 (etcd's bootstrap), so nodes joining later learn the configuration by
   * replaying the log; the application applies them like any conf change. The alternative is a
   * storage created with the configuration (MemoryStorage's `confState`); a node joining such a
   * group must then be created with the group's current configuration.
   * @default [] (configuration comes from storage)
   */
  peers?: readonly NodeId[];
  /** Learners of a brand-new group, likewise. @default [] */
  learners?: readonly NodeId[];
  /** Ticks without hearing from a leader before a follower starts an election; the actual timeout is randomized in [electionTicks, 2·electionTicks). @default DEFAULT_ELECTION_TICKS */
  electionTicks?: number;
  /** Ticks between leader heartbeats. Must be < electionTicks. @default DEFAULT_HEARTBEAT_TICKS */
  heartbeatTicks?: number;
  /**
   * The last index the application has applied (on restart). The configuration in
   * `storage.initialState().confState` must be the one as of this index: committed entries after
   * it (conf changes included) are handed out again. @default 0
   */
  appliedIndex?: number;
  /** Upper bound of the entries' data bytes in one append message. @default DEFAULT_MAX_APPEND_BYTES */
  maxAppendBytes?: number;
  /** Append messages in flight to one follower in the replicate state. @default MAX_INFLIGHT_APPENDS */
  maxInflightAppends?: number;
  /** Bytes of uncommitted entry data the leader accepts before dropping proposals. @default DEFAULT_MAX_UNCOMMITTED_BYTES */
  maxUncommittedBytes?: number;
  /** Largest single proposal (one entry's data) in bytes. @default DEFAULT_MAX_PROPOSAL_BYTES */
  maxProposalBytes?: number;
  /** Committed entries handed out in one Ready, in bytes. @default DEFAULT_MAX_COMMITTED_BYTES_PER_READY */
  maxCommittedBytesPerReady?: number;
  /**
   * Readys that may be outstanding at once (handed out by `ready()`, not yet acknowledged by
   * `advance()`). 1 is the strict loop; more lets the caller take the next Ready (send its
   * messages, queue its writes) while earlier ones are still being persisted, and acknowledge
   * them in order (see README, "Pipelined Readys"). @default 1
   */
  maxReadiesInFlight?: number;
  /** Run a pre-vote round before a real election. @default true */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum within an election timeout; followers ignore votes while they have a live leader. @default true */
  checkQuorum?: boolean;
  /** @default ReadOnlyOption.Safe */
  readOnlyOption?: ReadOnlyOption;
  /** Followers forward proposals to the leader instead of rejecting them. @default false */
  forwardProposals?: boolean;
  /** Test-only: bugs to re-introduce (see RaftBug). @default none */
  bugs?: readonly RaftBug[];
}

/** Every option with its default filled in; what the node runs with. */
export interface ResolvedRaftOptions {
  readonly id: NodeId;
  readonly storage: LogStorage;
  readonly random: RandomSource;
  readonly peers: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly appliedIndex: number;
  readonly maxAppendBytes: number;
  readonly maxInflightAppends: number;
  readonly maxUncommittedBytes: number;
  readonly maxProposalBytes: number;
  readonly maxCommittedBytesPerReady: number;
  readonly maxReadiesInFlight: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  readonly forwardProposals: boolean;
  readonly bugs: ReadonlySet<RaftBug>;
}

/** The defaults of every optional field, in one place (nats.js `defaultOptions()`). */
export function defaultOptions(): Omit<ResolvedRaftOptions, "id" | "storage" | "random"> {
  return {
    peers: [],
    learners: [],
    electionTicks: DEFAULT_ELECTION_TICKS,
    heartbeatTicks: DEFAULT_HEARTBEAT_TICKS,
    appliedIndex: 0,
    maxAppendBytes: DEFAULT_MAX_APPEND_BYTES,
    maxInflightAppends: MAX_INFLIGHT_APPENDS,
    maxUncommittedBytes: DEFAULT_MAX_UNCOMMITTED_BYTES,
    maxProposalBytes: DEFAULT_MAX_PROPOSAL_BYTES,
    maxCommittedBytesPerReady: DEFAULT_MAX_COMMITTED_BYTES_PER_READY,
    maxReadiesInFlight: 1,
    preVote: true,
    checkQuorum: true,
    readOnlyOption: ReadOnlyOption.Safe,
    forwardProposals: false,
    bugs: new Set(),
  };
}

/**
 * Fills in defaults and validates, once, at construction (etcd's Config.validate). Throws
 * InvalidOptionsError naming the first offending field and the rule it breaks.
 */
export function resolveOptions(options: RaftOptions): ResolvedRaftOptions {
  if (typeof options !== "object" || options === null)
    throw new InvalidOptionsError("options must be an object");
  const defaults = defaultOptions();
  const resolved: ResolvedRaftOptions = {
    id: options.id,
    storage: options.storage,
    random: options.random,
    peers: options.peers ?? defaults.peers,
    learners: options.learners ?? defaults.learners,
    electionTicks: options.electionTicks ?? defaults.electionTicks,
    heartbeatTicks: options.heartbeatTicks ?? defaults.heartbeatTicks,
    appliedIndex: options.appliedIndex ?? defaults.appliedIndex,
    maxAppendBytes: options.maxAppendBytes ?? defaults.maxAppendBytes,
    maxInflightAppends: options.maxInflightAppends ?? defaults.maxInflightAppends,
    maxUncommittedBytes: options.maxUncommittedBytes ?? defaults.maxUncommittedBytes,
    maxProposalBytes: options.maxProposalBytes ?? defaults.maxProposalBytes,
    maxCommittedBytesPerReady: options.maxCommittedBytesPerReady ?? defaults.maxCommittedBytesPerReady,
    maxReadiesInFlight: options.maxReadiesInFlight ?? defaults.maxReadiesInFlight,
    preVote: options.preVote ?? defaults.preVote,
    checkQuorum: options.checkQuorum ?? defaults.checkQuorum,
    readOnlyOption: options.readOnlyOption ?? defaults.readOnlyOption,
    forwardProposals: options.forwardProposals ?? defaults.forwardProposals,
    bugs: new Set(options.bugs ?? []),
  };
  const fail = (message: string): never => {
    throw new InvalidOptionsError(`invalid raft options: ${message}`);
  };
  const positiveInteger = (name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): void => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
      fail(`${name} must be an integer in [1, ${max}], got ${String(value)}`);
    }
  };
  positiveInteger("id", resolved.id);
  const storage = resolved.storage as Partial<LogStorage> | undefined;
  if (
    typeof storage !== "object" ||
    storage === null ||
    typeof storage.initialState !== "function" ||
    typeof storage.entries !== "function" ||
    typeof storage.term !== "function"
  ) {
    fail("storage must implement LogStorage");
  }
  if (typeof resolved.random?.nextInt !== "function") fail("random must be a RandomSource (nextInt)");
  positiveInteger("electionTicks", resolved.electionTicks, MAX_ELECTION_TICKS);
  positiveInteger("heartbeatTicks", resolved.heartbeatTicks);
  if (resolved.heartbeatTicks >= resolved.electionTicks) {
    fail(
      `heartbeatTicks (${resolved.heartbeatTicks}) must be less than electionTicks (${resolved.electionTicks}), or followers time out between heartbeats`,
    );
  }
  if (!Number.isSafeInteger(resolved.appliedIndex) || resolved.appliedIndex < 0) {
    fail(`appliedIndex must be a non-negative integer, got ${String(resolved.appliedIndex)}`);
  }
  positiveInteger("maxAppendBytes", resolved.maxAppendBytes);
  positiveInteger("maxInflightAppends", resolved.maxInflightAppends, MAX_INFLIGHT_APPENDS_LIMIT);
  positiveInteger("maxUncommittedBytes", resolved.maxUncommittedBytes);
  positiveInteger("maxProposalBytes", resolved.maxProposalBytes);
  positiveInteger("maxCommittedBytesPerReady", resolved.maxCommittedBytesPerReady);
  positiveInteger("maxReadiesInFlight", resolved.maxReadiesInFlight, MAX_READIES_IN_FLIGHT_LIMIT);
  if (resolved.maxProposalBytes > resolved.maxUncommittedBytes) {
    fail(
      `maxProposalBytes (${resolved.maxProposalBytes}) must not exceed maxUncommittedBytes (${resolved.maxUncommittedBytes}), or a maximal proposal could never be accepted`,
    );
  }
  for (const [name, value] of [
    ["preVote", resolved.preVote],
    ["checkQuorum", resolved.checkQuorum],
    ["forwardProposals", resolved.forwardProposals],
  ] as const) {
    if (typeof value !== "boolean") fail(`${name} must be a boolean, got ${String(value)}`);
  }
  if (!Object.values(ReadOnlyOption).includes(resolved.readOnlyOption)) {
    fail(
      `readOnlyOption must be one of ${Object.values(ReadOnlyOption).join(", ")}, got ${String(resolved.readOnlyOption)}`,
    );
  }
  if (resolved.readOnlyOption === ReadOnlyOption.LeaseBased && !resolved.checkQuorum) {
    fail("readOnlyOption lease-based requires checkQuorum, or a deposed leader could serve stale reads");
  }
  const knownBugs: readonly string[] = Object.values(RaftBug);
  for (const bug of resolved.bugs) if (!knownBugs.includes(bug)) fail(`unknown bug switch ${String(bug)}`);
  const seen = new Set<NodeId>();
  for (const [name, list] of [
    ["peers", resolved.peers],
    ["learners", resolved.learners],
  ] as const) {
    if (!Array.isArray(list)) fail(`${name} must be an array of node ids`);
    for (const id of list) {
      positiveInteger(`${name} entry`, id);
      if (seen.has(id)) fail(`node ${id} appears twice in peers/learners`);
      seen.add(id);
    }
  }
  return resolved;
}

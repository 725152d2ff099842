/**
 * A safety (or liveness) property the simulation found broken. It carries the seed and the
 * step, so the run replays exactly, and, once the runner has replayed it with tracing on, the
 * last events leading to it.
 */
export const ViolationKind = {
  ElectionSafety: "election-safety",
  OneVotePerTerm: "one-vote-per-term",
  LeaderAppendOnly: "leader-append-only",
  LogMatching: "log-matching",
  LeaderCompleteness: "leader-completeness",
  StateMachineSafety: "state-machine-safety",
  CommittedIsDurable: "committed-is-durable",
  CommittedNeverChanges: "committed-never-changes",
  /** A node's persisted term or commit index went backwards. */
  DurableStateRegressed: "durable-state-regressed",
  /** A ReadIndex answer below what was committed before the read was asked: a stale read. */
  LinearizableRead: "linearizable-read",
  /** After healing, an acknowledged proposal is missing, reordered, or replicas differ. */
  AcknowledgedLost: "acknowledged-lost",
  /** After healing, the cluster did not converge within the bound. */
  Liveness: "liveness",
  /** The core threw something other than a typed RaftError (an assertion failed). */
  CoreError: "core-error",
} as const;
export type ViolationKind = (typeof ViolationKind)[keyof typeof ViolationKind];

export class SimulationViolation extends Error {
  override readonly name = "SimulationViolation";
  readonly kind: ViolationKind;
  /** Filled in by the runner: the seed and step of the run that found it. */
  seed = 0;
  step = 0;
  /** Filled in by the runner after a traced replay: the last events before the violation. */
  trace: readonly string[] = [];
  constructor(kind: ViolationKind, message: string, options?: { cause?: unknown }) {
    super(`${kind}: ${message}`, options);
    this.kind = kind;
  }
}

import type { MemoryStorage } from "../../memory-storage.js";
import type { Entry, HardState, Message, NodeId, Ready } from "../../types.js";
import { MessageType, StateRole } from "../../types.js";
import type { LogMirror } from "./log-mirror.js";
import { chainHash, entryKey } from "./state-machine.js";
import { SimulationViolation, ViolationKind } from "./violation.js";

/**
 * The safety checkers of the simulation, in one place so every run (the CI seeds, the mutation
 * tests, the CLI) checks the same properties. They are incremental: each hook looks only at what
 * the event just changed, so "check after every step" costs O(change), not O(log).
 *
 *   Election Safety       at most one leader per term, over the whole run (restarts included);
 *   One vote per term     a node grants its vote in a term to one candidate only, ever — every
 *                         vote grant sent and every vote persisted is recorded;
 *   Leader Append-Only    a leader never rewrites its log during its term;
 *   Log Matching          (index, term) identifies an entry and its predecessor's term, so two
 *                         logs with the same (index, term) agree on the whole prefix;
 *   Leader Completeness   a new leader's log holds every entry committed in an earlier term,
 *                         and a leader holds every entry committed while it leads by a leader
 *                         of an earlier term (the term of a commit, not of the entry, counts:
 *                         the paper's figure 8);
 *   Committed never changes  what any node reports committed at an index stays the same;
 *   State Machine Safety  every node applies the same entry at each index (and the same
 *                         prefix: the state is a hash chain);
 *   CommittedIsDurable    when a leader's commit index moves, each newly committed entry is in
 *                         the *durable* storage of a majority of the voters (etcd's TLA+ invariant);
 *   Durable state         a node's persisted term and commit index never go backwards.
 */

/** What the checkers read of a node. */
export interface CheckedNode {
  readonly id: NodeId;
  readonly durable: MemoryStorage;
  readonly mirror: LogMirror;
  /** Highest commit index of this incarnation already recorded as committed. */
  recordedCommit: number;
  /** Highest commit index of this incarnation already checked for durability (as leader). */
  durableCheckedCommit: number;
  /** The term in which this node was leader at its last Ready, or 0. */
  appendOnlyTerm: number;
  /** The term for which Leader Completeness was checked at the node's first Ready as leader. */
  completenessCheckedTerm: number;
}

/** Terms stay below this within a run (they are packed into map keys). */
const TERM_SPACE = 1 << 20;
const KEY_SPACE = 0x1_0000_0000;

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (term, voter) → candidate. */
  private readonly votes = new Map<number, NodeId>();
  /** (index, term) → predecessor term * 2^32 + key. */
  private readonly entryIdentity = new Map<number, number>();
  /** The committed log as reported by any node: term and key per index (index 0 unused). */
  private readonly committedTerm: number[] = [0];
  private readonly committedKey: number[] = [0];
  /**
   * Per committed index, an upper bound of the term in which it was committed: the term of the
   * first node that reported it (a leader commits in its own term; a follower learns of commits
   * made in its term or before). Leader Completeness binds leaders of later terms only.
   */
  private readonly commitTermBound: number[] = [0];
  /** The global apply log: key and state hash after applying each index. */
  private readonly appliedKey: number[] = [0];
  private readonly appliedHash: number[] = [0];
  /** Nodes currently leading, for the late half of Leader Completeness. */
  private readonly leaders = new Map<NodeId, { term: number; node: CheckedNode }>();
  private readonly lookup: (id: NodeId) => CheckedNode | undefined;
  /** Number of distinct leaders elected (for the summary). */
  elections = 0;

  /** Checks switched off (only to show which other checkers catch a bug on their own). */
  private readonly disabled: ReadonlySet<ViolationKind>;

  constructor(lookup: (id: NodeId) => CheckedNode | undefined, disabled: readonly ViolationKind[] = []) {
    this.lookup = lookup;
    this.disabled = new Set(disabled);
  }

  /** Throws the violation, unless its kind is switched off. */
  private fail(kind: ViolationKind, message: string): void {
    if (!this.disabled.has(kind)) throw new SimulationViolation(kind, message);
  }

  get committedIndex(): number {
    return this.committedTerm.length - 1;
  }

  get appliedIndex(): number {
    return this.appliedHash.length - 1;
  }

  /** The key applied at `index` (first applier wins; others are checked against it). */
  appliedKeyAt(index: number): number | undefined {
    return this.appliedKey[index];
  }

  appliedHashAt(index: number): number | undefined {
    return this.appliedHash[index];
  }

  /** Every message a node sends passes here. */
  onSend(message: Message): void {
    if (message.type === MessageType.VoteResp && !message.reject) {
      this.recordVote(message.from, message.term, message.to, "granted a vote");
    }
  }

  private recordVote(voter: NodeId, term: number, candidate: NodeId, how: string): void {
    if (term >= TERM_SPACE) throw new Error(`term ${term} too large for the checker`);
    const key = term * 64 + voter;
    const previous = this.votes.get(key);
    if (previous === undefined) {
      this.votes.set(key, candidate);
    } else if (previous !== candidate) {
      this.fail(
        ViolationKind.OneVotePerTerm,
        `node ${voter} ${how} to ${candidate} in term ${term}, but had already voted for ${previous}`,
      );
    }
  }

  /**
   * A hard state reached the node's disk. A vote on disk is cast, even if no grant was sent (a
   * vote only held in memory and lost in a crash is not: nobody learned of it).
   */
  onPersistHardState(node: CheckedNode, previous: HardState, next: HardState): void {
    if (next.term < previous.term || next.commit < previous.commit) {
      this.fail(
        ViolationKind.DurableStateRegressed,
        `node ${node.id} persisted term ${next.term} commit ${next.commit} over term ${previous.term} commit ${previous.commit}`,
      );
    }
    if (next.vote !== 0) this.recordVote(node.id, next.term, next.vote, "persisted a vote");
  }

  /**
   * The node's role, term and commit index after an event (from `status()`). A node seen as
   * leader of a term another node already led breaks Election Safety; a leader's commit index
   * moving is checked against the disks (CommittedIsDurable).
   */
  onStatus(
    node: CheckedNode,
    role: StateRole,
    term: number,
    commit: number,
    voters: readonly NodeId[],
  ): void {
    if (role !== StateRole.Leader) {
      this.leaders.delete(node.id);
      return;
    }
    const current = this.leaders.get(node.id);
    if (current !== undefined && current.term === term) {
      if (commit > node.durableCheckedCommit) this.onLeaderCommit(node, commit, term, voters);
      return;
    }
    // A new leader checks durability only of what it commits itself: what it knew committed
    // before was decided by earlier leaders under their configurations.
    node.durableCheckedCommit = Math.max(node.durableCheckedCommit, commit);
    const previous = this.leaderOfTerm.get(term);
    if (previous === undefined) {
      this.leaderOfTerm.set(term, node.id);
      this.elections++;
    } else if (previous !== node.id) {
      this.fail(
        ViolationKind.ElectionSafety,
        `node ${node.id} became leader of term ${term}, which node ${previous} already led`,
      );
    }
    this.leaders.set(node.id, { term, node });
  }

  /**
   * A node handed out a Ready; `role` and `term` are the node's as of that Ready. Updates the
   * node's mirror and checks Log Matching, Leader Append-Only, Leader Completeness and records
   * what the node reports committed.
   */
  onReady(node: CheckedNode, rd: Ready, role: StateRole, term: number): void {
    const mirror = node.mirror;
    const hs = rd.hardState;
    if (rd.snapshot !== null) {
      const { index, term: snapTerm } = rd.snapshot.metadata;
      if (role === StateRole.Leader) {
        this.fail(ViolationKind.LeaderAppendOnly, `leader ${node.id} installed a snapshot at ${index}`);
      }
      this.checkCommittedPoint(node, index, snapTerm, "installed a snapshot");
      mirror.installSnapshot(index, snapTerm);
      node.recordedCommit = Math.max(node.recordedCommit, index);
    }
    const entries = rd.entries;
    if (entries.length > 0) {
      const first = entries[0]!.index;
      if (role === StateRole.Leader && node.appendOnlyTerm === term && first <= mirror.lastIndex) {
        this.fail(
          ViolationKind.LeaderAppendOnly,
          `leader ${node.id} of term ${term} rewrote its log from index ${first} (last index was ${mirror.lastIndex})`,
        );
      }
      let previousTerm = mirror.term(first - 1);
      if (first - 1 > mirror.lastIndex) {
        this.fail(
          ViolationKind.LogMatching,
          `node ${node.id} appended entries from ${first} but its log ends at ${mirror.lastIndex}`,
        );
      }
      for (const entry of entries) {
        this.checkEntryIdentity(node, entry, previousTerm);
        previousTerm = entry.term;
      }
      mirror.append(entries);
    }
    node.appendOnlyTerm = role === StateRole.Leader ? term : 0;
    if (role === StateRole.Leader && node.completenessCheckedTerm !== term) {
      node.completenessCheckedTerm = term;
      this.checkLeaderCompleteness(node, term);
    }
    if (hs !== null) this.recordCommitted(node, hs.commit, term);
  }

  private checkEntryIdentity(node: CheckedNode, entry: Entry, previousTerm: number): void {
    if (entry.term >= TERM_SPACE) throw new Error(`term ${entry.term} too large for the checker`);
    const id = entry.index * TERM_SPACE + entry.term;
    const key = entryKey(entry);
    const packed = previousTerm >= 0 ? previousTerm * KEY_SPACE + key : -1;
    const known = this.entryIdentity.get(id);
    if (known === undefined) {
      if (packed >= 0) this.entryIdentity.set(id, packed);
      return;
    }
    if (packed >= 0 && known !== packed) {
      const knownPrevious = Math.floor(known / KEY_SPACE);
      const knownKey = known % KEY_SPACE;
      this.fail(
        ViolationKind.LogMatching,
        `node ${node.id} holds entry ${entry.index}@${entry.term} (key ${key}, previous term ${previousTerm}), ` +
          `but another log holds ${entry.index}@${entry.term} with key ${knownKey}, previous term ${knownPrevious}`,
      );
    }
  }

  /** A committed point (a snapshot, or the node's base) must agree with the committed log. */
  private checkCommittedPoint(node: CheckedNode, index: number, term: number, what: string): void {
    const known = this.committedTerm[index];
    if (known !== undefined && index > 0 && known !== term) {
      this.fail(
        ViolationKind.CommittedNeverChanges,
        `node ${node.id} ${what} at ${index}@${term}, but ${index}@${known} was committed`,
      );
    }
  }

  private checkLeaderCompleteness(node: CheckedNode, term: number): void {
    const mirror = node.mirror;
    const last = this.committedIndex;
    for (let i = Math.max(1, mirror.firstIndex); i <= last; i++) {
      if (this.commitTermBound[i]! >= term) continue;
      const committedTerm = this.committedTerm[i]!;
      if (mirror.term(i) !== committedTerm || mirror.key(i) !== this.committedKey[i]) {
        this.fail(
          ViolationKind.LeaderCompleteness,
          `leader ${node.id} of term ${term} lacks committed entry ${i}@${committedTerm} ` +
            `(its log has ${mirror.term(i) < 0 ? "nothing" : `${i}@${mirror.term(i)}`} there, last index ${mirror.lastIndex})`,
        );
      }
    }
  }

  /**
   * Records as committed the node's entries up to `commit` (those its mirror holds), reported
   * by a node whose current term is `term`.
   */
  recordCommitted(node: CheckedNode, commit: number, term: number): void {
    const mirror = node.mirror;
    const upTo = Math.min(commit, mirror.lastIndex);
    if (upTo <= node.recordedCommit) return;
    for (let i = Math.max(node.recordedCommit + 1, mirror.firstIndex); i <= upTo; i++) {
      const entryTerm = mirror.term(i);
      const key = mirror.key(i);
      const knownTerm = this.committedTerm[i];
      if (knownTerm === undefined) {
        if (i !== this.committedTerm.length) {
          // A gap: the node's log starts past the committed log (it restored a snapshot taken
          // ahead of what anyone reported). Fill it from the node's base point onward later.
          break;
        }
        this.committedTerm.push(entryTerm);
        this.committedKey.push(key);
        this.commitTermBound.push(term);
        this.onNewlyCommitted(i, entryTerm, key, term);
      } else if (knownTerm !== entryTerm || this.committedKey[i] !== key) {
        this.fail(
          ViolationKind.CommittedNeverChanges,
          `node ${node.id} reports ${i}@${entryTerm} (key ${key}) committed, but ${i}@${knownTerm} (key ${this.committedKey[i]}) was committed before`,
        );
      } else if (term < this.commitTermBound[i]!) {
        this.commitTermBound[i] = term;
      }
      node.recordedCommit = i;
    }
  }

  /**
   * The late half of Leader Completeness: an entry committed in term `commitTerm` (at most)
   * must be held by current leaders of later terms.
   */
  private onNewlyCommitted(index: number, term: number, key: number, commitTerm: number): void {
    for (const { term: leaderTerm, node } of this.leaders.values()) {
      if (leaderTerm <= commitTerm || node.completenessCheckedTerm !== leaderTerm) continue;
      const mirror = node.mirror;
      if (index <= mirror.baseIndex) continue;
      if (mirror.term(index) !== term || mirror.key(index) !== key) {
        this.fail(
          ViolationKind.LeaderCompleteness,
          `entry ${index}@${term} committed in term ${commitTerm} while node ${node.id} leads term ${leaderTerm} without it`,
        );
      }
    }
  }

  /**
   * A leader's commit index after an event. Each newly committed entry must be in the durable
   * storage of a majority of `voters` (CommittedIsDurable), and is recorded as committed.
   */
  onLeaderCommit(node: CheckedNode, commit: number, term: number, voters: readonly NodeId[]): void {
    const mirror = node.mirror;
    const upTo = Math.min(commit, mirror.lastIndex);
    for (let i = node.durableCheckedCommit + 1; i <= upTo; i++) {
      if (i <= mirror.baseIndex) {
        node.durableCheckedCommit = i;
        continue;
      }
      const entryTerm = mirror.term(i);
      let durable = 0;
      const holders: NodeId[] = [];
      for (const voter of voters) {
        const other = this.lookup(voter);
        if (other !== undefined && isDurable(other.durable, i, entryTerm)) {
          durable++;
          holders.push(voter);
        }
      }
      if (durable * 2 <= voters.length) {
        this.fail(
          ViolationKind.CommittedIsDurable,
          `leader ${node.id} committed ${i}@${entryTerm}, but only [${holders.join(",")}] of voters [${voters.join(",")}] have it on disk`,
        );
      }
      node.durableCheckedCommit = i;
    }
    this.recordCommitted(node, commit, term);
  }

  /**
   * A node applied `entry` on top of state `previousHash`; returns the new hash. The first node
   * to apply an index fixes what every other must apply there.
   */
  onApply(node: CheckedNode, entry: Entry, previousHash: number): number {
    const key = entryKey(entry);
    const hash = chainHash(previousHash, entry.index, key);
    const index = entry.index;
    const known = this.appliedHash[index];
    if (known === undefined) {
      if (index !== this.appliedHash.length) {
        throw new Error(
          `simulator: apply log gap at ${index} (global apply log ends at ${this.appliedIndex})`,
        );
      }
      this.appliedHash.push(hash);
      this.appliedKey.push(key);
    } else if (known !== hash) {
      this.fail(
        ViolationKind.StateMachineSafety,
        `node ${node.id} applied ${index}@${entry.term} (key ${key}), but another node applied key ${this.appliedKey[index]} ` +
          `there${this.appliedKey[index] === key ? " after a different prefix" : ""}`,
      );
    }
    return hash;
  }

  /** A node restored its state from a snapshot at `index` with state `hash`. */
  onRestore(node: CheckedNode, index: number, hash: number): void {
    const known = this.appliedHash[index];
    if (known !== undefined && known !== hash) {
      this.fail(
        ViolationKind.StateMachineSafety,
        `node ${node.id} restored a snapshot at ${index} whose state differs from what was applied there`,
      );
    }
    if (known === undefined) {
      // Snapshots are taken of applied state, so the global apply log reaches their index.
      throw new Error(`simulator: snapshot at ${index} is past the global apply log (${this.appliedIndex})`);
    }
  }
}

/** Is the entry (index, term) in `storage`, or covered by its snapshot? */
export function isDurable(storage: MemoryStorage, index: number, term: number): boolean {
  const first = storage.firstIndex();
  if (index < first) return true;
  if (index > storage.lastIndex()) return false;
  return storage.term(index) === term;
}

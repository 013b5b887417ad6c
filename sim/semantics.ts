/**
 * Slot semantics: the one place where the plant's two queue rule sets differ. A world holds one
 * Semantics object, chosen once from `scenario.semantics`; each keeps its own state.
 *
 * | semantics  | file            | local queue                          | source                      |
 * |------------|-----------------|--------------------------------------|-----------------------------|
 * | "gmel"     | stages-gmel.ts  | outcome fixed at decision (eq. 1)    | the paper, Sec. III         |
 * | "tang2020" | stages-tang.ts  | FIFO served slot by slot             | Tang & Wong's simulator     |
 */
import type { Scenario } from '../core/scenario/schema.ts';
import type { TaskPool } from './task-pool.ts';
import type { World } from './world.ts';
import { GmelSemantics } from './stages-gmel.ts';
import { TangSemantics } from './stages-tang.ts';

export interface Semantics {
  readonly name: Scenario['semantics'];
  /**
   * true: once a task has left the pending stage, its deadline is checked by the stages (tang2020
   * drops a task when it is taken); false: by the world's wheel at the end of the slot holding it.
   */
  readonly stagesOwnDeadlines: boolean;
  /** clear this semantics' own state (a new episode) */
  reset(): void;
  /** the stages of one slot, before the world's resolutions (wheel) */
  runSlot(w: World): void;
  /** IED i's task `id` was decided local (its stage is already Local) */
  decideLocal(w: World, i: number, id: number): void;
  /** how long a task decided local now would wait before IED i's GPU starts it, seconds */
  localWaitSeconds(w: World, i: number): number;
  /** a local task was dropped with `remainingMbit` unprocessed: release what it held */
  localDropped(w: World, i: number, id: number, remainingMbit: number): void;
}

export function createSemantics(scenario: Scenario, pool: TaskPool): Semantics {
  return scenario.semantics === 'tang2020' ? new TangSemantics(pool, scenario.ieds) : new GmelSemantics(scenario.ieds);
}

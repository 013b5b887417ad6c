/**
 * The stages a task passes through, named once for the simulator, the protocol (result messages),
 * the KPI monitor and every report of drops by stage.
 *
 * | index | name    | the task is …                                            |
 * |-------|---------|----------------------------------------------------------|
 * | 0     | pending | announced, not yet decided (Poisson backlog)             |
 * | 1     | local   | on its IED's GPU, or queued for it (eq. 1)               |
 * | 2     | uplink  | in its IED's uplink FIFO (OFDMA, Sec. III-C)             |
 * | 3     | edge    | in an edge server's queue (eq. 2)                        |
 */
export const STAGE_NAMES = ['pending', 'local', 'uplink', 'edge'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** Tasks dropped, by the stage they were in when their deadline passed, and in all. */
export type DropCounts = Record<StageName | 'total', number>;

export function emptyDropCounts(): DropCounts {
  return { pending: 0, local: 0, uplink: 0, edge: 0, total: 0 };
}

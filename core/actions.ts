/** The names of an IED's actions (the paper's a_i ∈ {0 local, 1..M edge server m}), for manifests and metrics. */
export function actionName(action: number): string {
  return action === 0 ? 'local' : `edge-${action}`;
}

export function actionNames(edgeServers: number): string[] {
  return Array.from({ length: edgeServers + 1 }, (_, a) => actionName(a));
}

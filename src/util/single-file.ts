/**
 * The single-file package (scripts/package.mjs) sets this global to the
 * shipped runbooks' text by file name before anything else runs: its
 * presence is how the code knows it runs as the one-file executable (no
 * node_modules, no runbooks directory, no separate Node to start helpers).
 */
export function embeddedRunbooks(): Record<string, string> | undefined {
  return (globalThis as { __ETCD_RUNBOOK_EMBEDDED_RUNBOOKS__?: Record<string, string> }).__ETCD_RUNBOOK_EMBEDDED_RUNBOOKS__;
}

export function isSingleFileExecutable(): boolean {
  return embeddedRunbooks() !== undefined;
}

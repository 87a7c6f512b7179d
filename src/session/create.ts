import { ProbeChannels } from '../cluster/channels.js';
import { EtcdClusterClient } from '../cluster/client.js';
import { silentRecheck, type ClientTls, type ProbeTarget } from '../cluster/probe.js';
import type { ClusterReport } from '../cluster/types.js';
import type { Journal } from '../engine/journal.js';
import type { Operator } from '../engine/operator.js';
import { Runner } from '../engine/runner.js';
import { transcriptMarkdown, writeTranscript } from '../engine/transcript.js';
import type { EngineEvent, RunState } from '../engine/types.js';
import type { Inventory } from '../inventory/schema.js';
import { memberRecord } from '../runbook/context.js';
import { FileChecks } from '../runbook/file-checks.js';
import type { GuardEnvironment, GuardMember } from '../runbook/guards/index.js';
import { CommandFragment } from '../runbook/template.js';
import { NodeTransports } from '../transport/for-node.js';
import { ExitCode } from '../util/errors.js';
import { probeTargets } from './cluster-target.js';

export interface DriveOptions {
  journal: Journal;
  operator: Operator;
  inventory: Inventory;
  endpoints: string[];
  tls?: ClientTls;
  /** the run's opening events (run-started, an appliesTo override), printed before the runner starts */
  opening?: EngineEvent[];
  noColor?: boolean;
  /** connections the detection opened, for the run's probes (their owner closes them) */
  channels?: ProbeChannels;
}

export interface RunOutcome {
  state: RunState;
  journal: string;
  transcript: string;
  /** 0 when the run succeeded, else runFailed */
  exitCode: number;
}

export interface CreateRunOptions extends DriveOptions {
  signal: AbortSignal;
  onEvent: (event: EngineEvent, state: RunState) => void;
}

/**
 * The Runner wired to this cluster (transports, client, probes, guards);
 * run() drives it to the end, closes what it opened, and writes the transcript.
 */
export function createRun(state: RunState, options: CreateRunOptions): { runner: Runner; run: () => Promise<RunOutcome> } {
  const targets: ProbeTarget[] = probeTargets({ inventory: options.inventory, endpoints: options.endpoints, sources: [] });
  // a member that stayed silent (frozen) is re-checked with a short deadline on every later probe of the run
  // the run's probes and the client's endpoint ranking share open connections
  const channels = options.channels ?? new ProbeChannels(options.tls);
  const client = new EtcdClusterClient(options.endpoints, options.tls, { channels });
  const probeOnly = silentRecheck(targets, { tls: options.tls, channels }, undefined, state.lastProbe);
  // each probe of the run also ranks the client's endpoints (see rankWith)
  const probe = async (): Promise<ClusterReport> => {
    const report = await probeOnly();
    client.rankWith(report);
    return report;
  };
  const transports = new NodeTransports(options.inventory);
  const guardEnvironment: GuardEnvironment = {
    probe,
    transport: (node) => transports.get(node),
    client,
    members: guardMembers(options.inventory),
    // a snapshot verified at one step and unchanged since is not read whole again at the next
    fileChecks: new FileChecks(),
  };
  const runner = new Runner(state, {
    transport: (node) => transports.get(node),
    client,
    probe,
    guardEnvironment,
    operator: options.operator,
    journal: options.journal,
    signal: options.signal,
    onEvent: options.onEvent,
  });
  const run = async (): Promise<RunOutcome> => {
    let final: RunState;
    try {
      final = await runner.run();
    } finally {
      await client.close();
      if (!options.channels) channels.close();
      await transports.closeAll();
      options.journal.close();
    }
    const transcript = options.journal.path.replace(/\.jsonl$/, '.md');
    await writeTranscript(transcript, transcriptMarkdown(final));
    return { state: final, journal: options.journal.path, transcript, exitCode: final.status === 'succeeded' ? 0 : ExitCode.runFailed };
  };
  return { runner, run };
}

/** The members as guards see them, with the service's is-active command the runbooks use too. */
function guardMembers(inventory: Inventory): GuardMember[] {
  return inventory.members.map((m, index) => {
    const record = memberRecord(inventory, index);
    const isActive = isActiveOf(record.service);
    const controlPlaneActive = isActiveOf(record.controlPlane);
    const kubeletActive = isActiveOf(record.kubelet);
    return {
      name: m.name,
      peerURL: m.peerURLs[0] ?? '',
      clientURL: m.clientURLs[0] ?? '',
      ...(m.node?.paths?.dataDir ? { dataDir: m.node.paths.dataDir } : {}),
      ...(isActive ? { isActiveCommand: isActive } : {}),
      ...(controlPlaneActive ? { controlPlaneActiveCommand: controlPlaneActive } : {}),
      ...(kubeletActive ? { kubeletActiveCommand: kubeletActive } : {}),
      hostPaths: Object.fromEntries(HOST_PATH_FIELDS.flatMap((field) => (typeof record[field] === 'string' ? [[field, record[field]]] : []))),
    };
  });
}

/** the member record's paths the host-backup-complete guard looks for in a backup */
const HOST_PATH_FIELDS = ['pkiDir', 'kubernetesDir', 'kubeletDir', 'kubeconfig', 'kubeletDropIn', 'kubeletPackageDropIn', 'envFile', 'unitFile'] as const;

/** A service record's is-active command (service, controlPlane), when the inventory or layout gives one. */
function isActiveOf(service: unknown): string | undefined {
  const isActive = service && typeof service === 'object' && 'isActive' in service ? service.isActive : undefined;
  return isActive instanceof CommandFragment ? isActive.command : undefined;
}

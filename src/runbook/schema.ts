import { z } from 'zod';

/**
 * A runbook is data: `runbooks/*.yaml`, validated by this schema
 * before it is shown. Text fields that reach a node may hold `{{ path }}`
 * templates; in `run:` commands every interpolated value is shell-quoted by
 * the one quoting function (auto-escaping), so a runbook author cannot forget.
 *
 * Template paths are checked statically against the render context's shape
 * (runbook/context.ts): an unknown variable is a lint error, never a blank.
 */

export const VERDICTS = ['healthy', 'minority-lost', 'quorum-lost', 'split-brain', 'unreachable', 'alarm'] as const;
export const RISKS = ['read-only', 'changes', 'destructive'] as const;
export const STEP_KINDS = ['command', 'etcd', 'copy', 'wait', 'manual', 'snapshot-restore', 'move-aside', 'edit-config', 'renew-certificates'] as const;

/**
 * Where a step runs:
 *  local                  this machine (the master the operator is on)
 *  each-member            every member in the inventory, one sub-run per node
 *  each-surviving-member  every member except the one being replaced (inputs.member)
 *  member                 the member named by inputs.member (the one being replaced/restored)
 *  survivor               the member named by inputs.survivor (single-survivor, split-brain source)
 *  each-other-member      every member except the survivor (inputs.survivor)
 * and, inside a `repeat`, its variable's name (`joiner`): the member of that pass.
 */
export const TARGETS = ['local', 'each-member', 'each-surviving-member', 'member', 'survivor', 'each-other-member'] as const;

/**
 * What a `repeat` walks, one member per pass, in inventory order:
 *  each-member         every member in the inventory (backup: pull each master's files here)
 *  each-other-member   every member except the survivor (inputs.survivor)
 */
export const REPEAT_OVER = ['each-member', 'each-other-member'] as const;

/** etcd API actions, through the cluster client (no shell). */
export const ETCD_ACTIONS = [
  'snapshot-save',
  'member-remove',
  'member-add',
  'member-promote',
  'member-list',
  'status',
  'compact',
  'defragment',
  'alarm-disarm',
  'write-probe',
] as const;

/** Conditions a `wait` step polls until true or the timeout. */
export const WAIT_CONDITIONS = [
  'cluster-healthy',
  'member-healthy',
  'member-in-sync',
  'member-rejoined',
  'quorum',
  'single-cluster-id',
  'members-stopped',
] as const;

const template = z.string().min(1);
const duration = z.string().regex(/^\d+(ms|s|m)$/, 'must be a duration like 500ms, 30s or 5m');

export const guardRefSchema = z
  .object({
    /** a guard name from the registry (runbook/guards/) */
    check: z.string().min(1),
    /** guard parameters; string values may be templates */
    with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** overrides the guard's own failure message */
    message: z.string().min(1).optional(),
    /** the operator may override a failure (journaled with a reason) */
    overridable: z.boolean().optional(),
  })
  .strict();

export const inputSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'must be a camelCase identifier'),
    description: z.string().min(1),
    /** members: inventory member names, comma-separated; may be empty (--set alsoRemove=) */
    type: z.enum(['string', 'number', 'member', 'members', 'path', 'boolean']).default('string'),
    /** a literal or a template over inventory/detection, e.g. "{{ detection.unhealthyMembers.0 }}" */
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    required: z.boolean().default(true),
  })
  .strict();

const stepId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case words joined by dashes');
const identifier = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'must be a camelCase identifier');
const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Whether a step applies to this run, decided when the runbook is rendered
 * from one input or one fact the probe found — never a shell string:
 *
 *   when: { input: failedHostAnswers, equals: true }
 *   when: { fact: detection.verdict, notEquals: split-brain }
 *
 * A step left out is shown by `plan` as "skipped: <reason>", recorded as not
 * applicable in the journal and transcript, and never run.
 */
export const whenSchema = z
  .object({
    /** the name of one of the runbook's inputs */
    input: identifier.optional(),
    /** a value of the render context: detection.verdict, target.layout, survivor.name… */
    fact: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+)+$/, 'must be a context path such as detection.verdict').optional(),
    equals: scalar.optional(),
    notEquals: scalar.optional(),
    oneOf: z.array(scalar).min(1).optional(),
    /** what plan says when the step is left out (default: the condition in words) */
    reason: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((when, ctx) => {
    if ((when.input === undefined) === (when.fact === undefined)) ctx.addIssue({ code: 'custom', path: [], message: 'names exactly one of input or fact' });
    const tests = [when.equals, when.notEquals, when.oneOf].filter((t) => t !== undefined).length;
    if (tests !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'takes exactly one of equals, notEquals or oneOf' });
  });

const stepBase = {
  id: stepId,
  title: z.string().min(1),
  /** one line: why this step exists (shown in the step view) */
  why: z.string().min(1),
  target: z.enum(TARGETS),
  risk: z.enum(RISKS),
  guards: z.array(guardRefSchema).default([]),
  /** what proves the step worked, evaluated after it */
  check: guardRefSchema.optional(),
  /** only for these layouts (kubeadm/systemd); default: all */
  layouts: z.array(z.enum(['kubeadm', 'systemd'])).optional(),
  /** where the step comes from: public upstream pages by URL (etcd.io, kubernetes.io), optionally the command they show */
  source: z.string().min(1).optional(),
  timeout: duration.optional(),
  /** the step applies only when this holds (an input or a detected fact) */
  when: whenSchema.optional(),
};

/**
 * The step kinds over a target field: top-level steps take TARGETS; steps
 * nested in a `repeat` also take the repeat's variable name (checked by the
 * repeat, which knows it).
 */
function stepKinds<T extends z.ZodType<string>>(target: T) {
  const base = { ...stepBase, target };
  return z.discriminatedUnion('kind', [
    z
      .object({
        ...base,
        kind: z.literal('command'),
        run: template,
        /**
         * The command changes files only: it starts or stops no service and
         * changes nothing in etcd (reads such as `snapshot save` are fine).
         * The cluster is then as the probe before it saw it, and the next
         * step's guards may judge that probe while it is fresh (engine/runner.ts).
         * Lint refuses it on a command that names a service's start or stop
         * or an etcdctl write.
         */
        filesOnly: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        ...base,
        kind: z.literal('etcd'),
        action: z.enum(ETCD_ACTIONS),
        with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      })
      .strict(),
    z
      .object({
        ...base,
        kind: z.literal('copy'),
        /** source node: 'local' or a template naming a member, e.g. "{{ inputs.survivor }}" */
        from: z.object({ node: template, path: template }).strict(),
        /** destination path on each target node */
        to: z.object({ path: template }).strict(),
        recursive: z.boolean().optional(),
        /** a source that is not there is said and skipped, not a failure (a file some hosts have, e.g. root's kubeconfig) */
        optional: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        ...base,
        kind: z.literal('wait'),
        until: z.enum(WAIT_CONDITIONS),
        with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
        interval: duration.optional(),
      })
      .strict(),
    z.object({ ...base, kind: z.literal('manual'), instruction: template }).strict(),
    z
      .object({
        ...base,
        kind: z.literal('snapshot-restore'),
        /** the snapshot file on the target member's node */
        snapshot: template,
        /** restore into <dataDir><into> (and <walDir><into>), e.g. ".restore"; omitted: into the dirs themselves */
        into: z.string().regex(/^[A-Za-z0-9._-]*$/, 'must be a plain suffix such as .restore').optional(),
        initialCluster: template,
        /** the new cluster's --initial-cluster-token */
        token: template,
        /** etcdutl only (3.5+): --bump-revision N; 0 or omitted: no bump (etcdctl 3.4 never bumps, and the step says so) */
        bumpRevision: z.union([template, z.number()]).optional(),
        /** default: with the bump (--bump-revision needs it) */
        markCompacted: z.union([template, z.boolean()]).optional(),
        skipHashCheck: z.union([template, z.boolean()]).optional(),
        /** the restored dirs take this dir's owner when it exists (the old data dir, moved aside) */
        ownerFrom: template.optional(),
        /** once restored, <dir><into> is renamed <dir> (an empty dir there is removed first; anything else refuses) */
        install: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        ...base,
        kind: z.literal('move-aside'),
        /** the dir moved to <path>.old-<run timestamp> (a mount point: its contents, into <path>/.old-<run timestamp>/); a list: each in turn */
        path: z.union([template, z.array(template).min(1)]),
        /** old (default): a member's data; fresh: what a new host already has where the old host's files go (any file, link or dir), to <path>.fresh-<run timestamp> */
        suffix: z.enum(['old', 'fresh']).optional(),
        /** the target member's WAL dir (node.paths.walDir), when it has one, moves with it */
        withWalDir: z.boolean().optional(),
        /** make the dir again afterwards, empty, mode 0700, owned like the old one (a joining member starts in it) */
        recreate: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        ...base,
        kind: z.literal('edit-config'),
        /** etcd flags (without the dashes) and their values, set where the member's configuration lives: env file or static-pod manifest */
        set: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be an etcd flag name such as initial-cluster-state'), z.union([template, z.number()])),
        /** kubeadm: the manifest parked out of the manifests dir while etcd is stopped (default), or the live one (the kubelet restarts the pod) */
        manifest: z.enum(['stopped', 'running']).optional(),
      })
      .strict(),
    z
      .object({
        ...base,
        kind: z.literal('renew-certificates'),
        /** the certificates on the target member, each with its key beside it (.crt → .key); one not there is skipped */
        certificates: z.array(template).min(1),
        /** the CA that signs: a member (the master holding its key) and, when not the layout's own, the dir holding ca.crt and ca.key */
        ca: z.object({ node: template, dir: z.string().optional() }).strict(),
        /** how long the renewed certificates are valid (kubeadm's default: 365) */
        days: z.union([template, z.number().int().positive()]).optional(),
      })
      .strict(),
  ]);
}

export const stepSchema = stepKinds(z.enum(TARGETS));

/** A step inside a `repeat`: its target may also be the repeat's variable. */
export const nestedStepSchema = stepKinds(identifier.or(z.enum(TARGETS)));

/** The names a repeat's variable cannot take: the context's own roots. */
export const CONTEXT_ROOTS = ['inventory', 'cluster', 'detection', 'inputs', 'tls', 'run', 'tools', 'local', 'member', 'target', 'survivor'] as const;

export const repeatHeaderSchema = z
  .object({
    /** the members to walk, one pass each, in order */
    for: z.enum(REPEAT_OVER),
    /** the variable naming the pass's member in the nested steps: {{ joiner.name }}, target: joiner */
    as: identifier.refine((name) => !(CONTEXT_ROOTS as readonly string[]).includes(name), {
      message: `is already a template root (${CONTEXT_ROOTS.join(', ')}): pick another name, e.g. joiner`,
    }),
  })
  .strict();

/**
 * A sequence of steps run once per member, in order, one member after the
 * other (grow a cluster back one member at a time). Expanded at render time
 * into plain steps with ids `<id>-<member>-<step id>`, so the engine never
 * sees it. The variable is a member record plus `initialCluster`: the
 * members outside the walk, those of earlier passes and this one
 * (name=peerURL, comma-separated) — the member list the joiner meets.
 */
export const repeatSchema = z
  .object({
    id: stepId,
    repeat: repeatHeaderSchema,
    steps: z.array(nestedStepSchema).min(1),
  })
  .strict()
  .superRefine((entry, ctx) => {
    const seen = new Set<string>();
    // (a nested target that is neither a TARGET nor the variable is a lint error: loader.ts)
    entry.steps.forEach((step, index) => {
      if (seen.has(step.id)) ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `duplicate step id "${step.id}" in this repeat` });
      seen.add(step.id);
    });
  });

/**
 * Steps shared by several runbooks live once, in a file of `runbooks/shared/`,
 * and a runbook takes them in where it needs them:
 *
 *   - include: shared/restore-from-snapshot.yaml
 *
 * Its `guards` are added to every included step, before the step's own (the
 * verdict the including runbook is for, say).
 */
export const includeSchema = z
  .object({
    include: z.string().regex(/^shared\/[a-z0-9][a-z0-9-]*\.ya?ml$/, 'must name a file of the shared directory, e.g. shared/restore-from-snapshot.yaml'),
    guards: z.array(guardRefSchema).default([]),
  })
  .strict();

/** A `steps:` entry is a repeat when it has a `repeat:` field, else a plain step. */
export function isRepeatEntry(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, 'repeat');
}

/** A `steps:` entry that takes in a shared step file. */
export function isIncludeEntry(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, 'include');
}

/**
 * Dispatches on the `repeat:` (or `include:`) field rather than a zod union,
 * so a mistake in a step is reported at its own field (a union would only
 * say "no option matched").
 */
function parseEntry(value: unknown, ctx: z.RefinementCtx, includes: boolean): RunbookStep | RepeatEntry | IncludeEntry {
  if (isIncludeEntry(value) && !includes) {
    ctx.addIssue({ code: 'custom', path: ['include'], message: 'a shared step file includes no other: include both files in the runbook' });
    return z.NEVER;
  }
  const schema = isIncludeEntry(value) ? includeSchema : isRepeatEntry(value) ? repeatSchema : stepSchema;
  const parsed = (schema as z.ZodType<RunbookStep | RepeatEntry | IncludeEntry>).safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
}

const stepOrRepeatSchema = z.unknown().transform((value, ctx) => parseEntry(value, ctx, false) as RunbookStep | RepeatEntry);
const runbookEntrySchema = z.unknown().transform((value, ctx) => parseEntry(value, ctx, true));

/**
 * A shared step file (`runbooks/shared/*.yaml`): not a runbook (no
 * appliesTo; it is never listed or run on its own), its steps and the
 * runbook inputs they read. Every runbook that includes it declares those
 * inputs, with the same type; lint checks the file on its own too.
 */
export const sharedStepsSchema = z
  .object({
    shared: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case words joined by dashes'),
    description: z.string().min(1),
    inputs: z.array(inputSchema).default([]),
    steps: z.array(stepOrRepeatSchema).min(1),
  })
  .strict()
  .superRefine((file, ctx) => uniqueStepIds(file.steps, ctx));

function uniqueStepIds(steps: Array<{ id?: string }>, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  steps.forEach((step, index) => {
    if (step.id === undefined) return;
    if (seen.has(step.id)) ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `duplicate step id "${step.id}"` });
    seen.add(step.id);
  });
}

export const runbookSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case words joined by dashes'),
    title: z.string().min(1),
    description: z.string().min(1),
    appliesTo: z.array(z.enum(VERDICTS)).min(1),
    /** the public upstream procedures this runbook follows, by URL */
    sources: z.array(z.string().min(1)).default([]),
    inputs: z.array(inputSchema).default([]),
    steps: z.array(runbookEntrySchema).min(1),
  })
  .strict()
  .superRefine((runbook, ctx) => {
    uniqueStepIds(runbook.steps as Array<{ id?: string }>, ctx);
    // a repeat's steps become <repeat id>-<member>-<step id>: a plain step id must not look like one
    for (const entry of runbook.steps) {
      if (!('repeat' in entry)) continue;
      runbook.steps.forEach((step, index) => {
        if ('id' in step && !('repeat' in step) && step.id.startsWith(`${entry.id}-`)) {
          ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `"${step.id}" starts with "${entry.id}-", the prefix of repeat ${entry.id}'s expanded steps: rename one of them` });
        }
      });
    }
  });

/** A runbook file as written: its steps may include shared step files. */
export type RunbookFile = z.infer<typeof runbookSchema>;
/** A runbook as loaded: every include replaced by the shared file's steps. */
export type Runbook = Omit<RunbookFile, 'steps'> & { steps: Array<RunbookStep | RepeatEntry> };
export type SharedSteps = z.infer<typeof sharedStepsSchema>;
export type IncludeEntry = z.infer<typeof includeSchema>;
export type RunbookStep = z.infer<typeof stepSchema>;
export type NestedStep = z.infer<typeof nestedStepSchema>;
export type RepeatEntry = z.infer<typeof repeatSchema>;
export type RepeatOver = (typeof REPEAT_OVER)[number];
export type RunbookInput = z.infer<typeof inputSchema>;
export type GuardRef = z.infer<typeof guardRefSchema>;
export type StepWhen = z.infer<typeof whenSchema>;
export type Risk = (typeof RISKS)[number];
export type StepKind = (typeof STEP_KINDS)[number];
export type StepTarget = (typeof TARGETS)[number];
export type EtcdAction = (typeof ETCD_ACTIONS)[number];
export type WaitCondition = (typeof WAIT_CONDITIONS)[number];

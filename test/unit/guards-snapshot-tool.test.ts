import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterClient } from '../../src/cluster/client.js';
import type { ClusterReport } from '../../src/cluster/types.js';
import { FileChecks, SNAPSHOT_INTEGRITY } from '../../src/runbook/file-checks.js';
import { evaluateGuard, type GuardEnvironment } from '../../src/runbook/guards/index.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { ExecOptions, ExecResult } from '../../src/transport/types.js';
import { shellQuote } from '../../src/util/shell.js';

/**
 * snapshot-verified runs `snapshot status` with the tool the restore uses
 * (the snapshot-restore kind's choice by the servers' version: etcdutl on
 * 3.5+, etcdctl on 3.4), the other when the node lacks it, and says so when
 * it has neither. The node here is this machine with a PATH of the
 * test's choosing; the etcdutl in it is a script that answers as etcdutl
 * does (the real tools are exercised in the e2e tests).
 */
class NodeWithPath extends LocalTransport {
  constructor(private readonly path: string) {
    super('m1');
  }

  override exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    return super.exec(`PATH=${shellQuote(this.path)}; export PATH; ${command}`, options);
  }
}

describe('snapshot-verified finds the snapshot tool on the node', () => {
  const local = new LocalTransport();
  let dir: string;
  let snapshot: string;
  const tools = () => join(dir, 'tools');
  // the shell utilities the integrity check pipes through (head, tail, od, tr, sha256sum / openssl)
  const system = '/usr/bin:/bin';

  /** snapshot-verified of `path` on m1, a node whose PATH is `toolPath` */
  const judge = (toolPath: string, path = snapshot, fileChecks?: FileChecks, serverVersion?: string) => {
    const probe = () => (serverVersion ? Promise.resolve({ endpoints: [{ reachable: true, version: serverVersion }] } as unknown as ClusterReport) : Promise.reject(new Error('no probe here')));
    const env: GuardEnvironment = { probe, transport: () => new NodeWithPath(toolPath), client: {} as ClusterClient, members: [], ...(fileChecks ? { fileChecks } : {}) };
    return evaluateGuard({ check: 'snapshot-verified', params: { node: 'm1', path }, overridable: false, description: 'snapshot verified' }, env);
  };

  /**
   * A snapshot the save wrote on `savedOn`, with what the save reports (its
   * integrity and sha256), and a copy of it on m1 whose hash the copy step learned.
   */
  async function savedAndCopy(name: string, savedOn: string): Promise<{ saved: string; copy: string; fileChecks: FileChecks }> {
    const saved = join(dir, `${name}.db`);
    const copy = join(dir, `${name}-copy.db`);
    await copyFile(snapshot, saved);
    await copyFile(snapshot, copy);
    const sha256 = createHash('sha256').update(await readFile(saved)).digest('hex');
    const fileChecks = new FileChecks();
    fileChecks.learn(savedOn, SNAPSHOT_INTEGRITY, saved, (await local.identity(saved))!, { kind: 'ok', size: 544, by: 'as etcd streamed it to the save' });
    fileChecks.learnSha256(savedOn, saved, (await local.identity(saved))!, sha256);
    fileChecks.learnSha256('m1', copy, (await local.identity(copy))!, sha256);
    return { saved, copy, fileChecks };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapshot-tool-'));
    // a body and the sha256 of it appended, as snapshot save writes: 512 + 32 bytes
    const body = randomBytes(512);
    snapshot = join(dir, 'snap.db');
    await writeFile(snapshot, Buffer.concat([body, createHash('sha256').update(body).digest()]));
    await mkdir(tools());
    await writeFile(join(tools(), 'etcdutl'), '#!/bin/sh\n[ "$1 $2 $4 $5" = "snapshot status -w json" ] || exit 9\necho \'{"hash":3700355443,"revision":42,"totalKey":7,"totalSize":544}\'\n');
    await chmod(join(tools(), 'etcdutl'), 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prefers etcdutl when no server reported its version', async () => {
    const outcome = await judge(`${tools()}:${system}`);
    expect(outcome).toMatchObject({ ok: true });
    expect(outcome.message).toMatch(/verified with etcdutl snapshot status: revision 42, 7 keys, 544 bytes, hash dc8ef173, sha256 integrity hash matches$/);
  });

  it('uses the tool the restore would use: etcdctl for etcd 3.4 servers, though the node has etcdutl too', async () => {
    await writeFile(join(tools(), 'etcdctl'), '#!/bin/sh\n[ "$ETCDCTL_API $1 $2 $4 $5" = "3 snapshot status -w json" ] || exit 9\necho \'{"hash":3700355443,"revision":43,"totalKey":7,"totalSize":544}\'\n');
    await chmod(join(tools(), 'etcdctl'), 0o755);
    const old = await judge(`${tools()}:${system}`, snapshot, undefined, '3.4.23');
    expect(old.message).toMatch(/verified with etcdctl snapshot status: revision 43,/);
    const modern = await judge(`${tools()}:${system}`, snapshot, undefined, '3.5.15');
    expect(modern.message).toMatch(/verified with etcdutl snapshot status: revision 42,/);
    await rm(join(tools(), 'etcdctl'));
  });

  it('says the node has neither tool', async () => {
    const outcome = await judge(join(dir, 'nothing-here'));
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/cannot verify .*snap\.db on m1: neither etcdutl nor etcdctl is installed on m1/);
  });

  it('takes the integrity hash from the save that wrote the file (not read again), and for a copy with its sha256 says where it was found', async () => {
    const { saved, copy, fileChecks } = await savedAndCopy('saved', 'm1');
    // etcdutl alone on the PATH: the integrity pipeline (tail, od, head, sha256sum) could not run there
    const judgeWith = (path: string) => judge(tools(), path, fileChecks);
    const first = await judgeWith(saved);
    expect(first.ok, first.message).toBe(true);
    expect(first.message).toMatch(/sha256 integrity hash matches \(checked as etcd streamed it to the save; the file is unchanged since\)$/);
    const twin = await judgeWith(copy);
    expect(twin.ok, twin.message).toBe(true);
    expect(twin.message).toContain(`(checked earlier in this run as m1:${saved}: this file has the same sha256`);
    // written since the save: read again, and with no pipeline on that PATH the check says it could not
    await writeFile(saved, await readFile(snapshot));
    const again = await judgeWith(saved);
    expect(again.ok).toBe(false);
    expect(again.message).toMatch(/could not check its sha256 integrity hash/);
  });

  it('says so when only the integrity hash, not snapshot status, is known from a file with the same sha256', async () => {
    const { saved: source, copy, fileChecks } = await savedAndCopy('source', 'local');
    const outcome = await judge(tools(), copy, fileChecks);
    expect(outcome.ok, outcome.message).toBe(true);
    expect(outcome.message).toMatch(
      new RegExp(`sha256 integrity hash matches \\(checked as etcd streamed it to the save for local:${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, which has this file's sha256; the file is unchanged since\\)$`),
    );
  });
});

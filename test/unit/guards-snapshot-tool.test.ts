import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterClient } from '../../src/cluster/client.js';
import { evaluateGuard, type GuardEnvironment } from '../../src/runbook/guards.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { ExecOptions, ExecResult } from '../../src/transport/types.js';
import { shellQuote } from '../../src/util/shell.js';

/**
 * snapshot-verified finds the node's snapshot tool and runs it in one round
 * trip: etcdutl where the node has it (etcd 3.5+), else etcdctl, and says so
 * when it has neither. The node here is this machine with a PATH of the
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
  let dir: string;
  let snapshot: string;
  const tools = () => join(dir, 'tools');
  // the shell utilities the integrity check pipes through (head, tail, od, tr, sha256sum / openssl)
  const system = '/usr/bin:/bin';

  const judge = (path: string) => {
    const env: GuardEnvironment = { probe: () => Promise.reject(new Error('no probe here')), transport: () => new NodeWithPath(path), client: {} as ClusterClient, members: [] };
    return evaluateGuard({ check: 'snapshot-verified', params: { node: 'm1', path: snapshot }, overridable: false, description: 'snapshot verified' }, env);
  };

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

  it('prefers etcdutl, and reads its answer after the line naming it', async () => {
    const outcome = await judge(`${tools()}:${system}`);
    expect(outcome).toMatchObject({ ok: true });
    expect(outcome.message).toMatch(/verified with etcdutl snapshot status: revision 42, 7 keys, 544 bytes, hash dc8ef173, sha256 integrity hash matches$/);
  });

  it('says the node has neither tool', async () => {
    const outcome = await judge(join(dir, 'nothing-here'));
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/cannot verify .*snap\.db on m1: neither etcdutl nor etcdctl is installed on m1/);
  });
});

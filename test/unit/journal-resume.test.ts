import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, fdatasyncSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultJournalDir, Journal, latestJournal, readJournal, readJournalContents, replay, resumeState } from '../../src/engine/journal.js';
import { ScriptedOperator } from '../../src/engine/operator.js';
import { canApply, initialState, reduce } from '../../src/engine/reducer.js';
import type { EngineEvent, RunState } from '../../src/engine/types.js';
import { OperatorError } from '../../src/util/errors.js';
import { at, HEALTHY, ok, RUNBOOK, runStep, started } from './engine-fixtures.js';

const KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const KEY_BODY = KEY.split('\n')[1]!;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'journal-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Append every event, reducing what the journal wrote — as the runner does. */
function record(journal: Journal, events: EngineEvent[], state?: RunState): RunState {
  let live = state;
  for (const event of events) {
    const written = journal.append(event);
    live = live ? reduce(live, written) : initialState(written as Extract<EngineEvent, { type: 'run-started' }>);
  }
  return live!;
}

/** A run interrupted while take-snapshot was running on master-1. */
function interrupted(): EngineEvent[] {
  return [
    started,
    ...runStep('check-health', ['local'], [], false),
    { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [ok('quorum')] },
    { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'alice' },
    { type: 'step-started', at: at(), step: 'take-snapshot' },
    { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'etcdctl snapshot save /backup/snap.db' },
    { type: 'output', at: at(), step: 'take-snapshot', node: 'master-1', stream: 'stdout', chunk: 'saving…\n' },
  ];
}

/** A run whose first step the operator skipped: a decision no step follows. */
function skippedFirstStep(): EngineEvent[] {
  return [
    started,
    { type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [] },
    { type: 'skipped', at: at(), step: 'check-health', reason: 'checked by hand', operator: 'alice' },
  ];
}

describe('Journal files', () => {
  it('creates <runId>.jsonl with mode 0600 in a new directory with mode 0700', () => {
    const journalDir = join(dir, 'state', 'journal');
    const journal = Journal.create(journalDir, 'run-1');
    journal.append(started);
    journal.close();
    expect(journal.path).toBe(join(journalDir, 'run-1.jsonl'));
    expect(statSync(journalDir).mode & 0o777).toBe(0o700);
    expect(statSync(journal.path).mode & 0o777).toBe(0o600);
  });

  it('leaves the mode of an existing directory alone', () => {
    const journal = Journal.create(dir, 'run-1');
    journal.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700); // mkdtemp's own mode, unchanged
    expect(statSync(journal.path).mode & 0o777).toBe(0o600);
  });

  it('writes one JSON object per line, each before the next, and flushes write-ahead: every started target is on disk before it runs', () => {
    // what each flush carried: the types of the lines written up to it; and whether append waited for it
    const flushes: string[][] = [];
    const waited: boolean[] = [];
    const carried = (fd: number) => {
      fdatasyncSync(fd);
      flushes.push(readFileSync(journal.path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as EngineEvent).type));
    };
    const journal = Journal.create(dir, 'run-1', {
      sync: (fd) => {
        carried(fd);
        waited.push(true);
      },
      syncInBackground: (fd, done) => {
        carried(fd);
        waited.push(false);
        done(true);
      },
    });
    const events = interrupted();
    record(journal, events);
    const lines = () => readFileSync(journal.path, 'utf8');
    // written at once, flushed or not: a tool that dies loses nothing
    expect(lines().split('\n').slice(0, -1).map((l) => (JSON.parse(l) as EngineEvent).type)).toEqual(events.map((e) => e.type));
    expect(lines().endsWith('\n')).toBe(true);
    // one flush per run-started, target-started and step-finished, each carrying every line before it
    const types = events.map((e) => e.type);
    const flushedAt = types.flatMap((t, i) => (['run-started', 'target-started', 'step-finished'].includes(t) ? [i] : []));
    expect(flushes.map((f) => f.length)).toEqual(flushedAt.map((i) => i + 1));
    expect(flushes.every((f) => ['run-started', 'target-started', 'step-finished'].includes(f.at(-1)!))).toBe(true);
    // every started target is on disk before append returns; the run's start and a step's end are flushed in the background
    expect(waited).toEqual(flushes.map((f) => f.at(-1) === 'target-started'));
    // the output after the last started target is flushed on close
    journal.close();
    expect(flushes.at(-1)).toEqual(types);
  });

  it('does not wait for the disk before a target that changes nothing (a read-only step): its flush goes to the background', () => {
    const waited: string[] = [];
    const background: string[] = [];
    const last = (fd: number) => {
      fdatasyncSync(fd);
      const lines = readFileSync(journal.path, 'utf8').trim().split('\n');
      return (JSON.parse(lines.at(-1)!) as EngineEvent & { ran?: string }).ran ?? 'run-started';
    };
    const journal = Journal.create(dir, 'run-read-only', {
      sync: (fd) => void waited.push(last(fd)),
      syncInBackground: (fd, done) => {
        background.push(last(fd));
        done(true);
      },
    });
    journal.append(started);
    journal.append({ type: 'target-started', at: at(), step: 'look', node: 'local', ran: 'etcdctl member list', changesNothing: true });
    journal.append({ type: 'target-finished', at: at(), step: 'look', node: 'local', ok: true });
    journal.append({ type: 'target-started', at: at(), step: 'remove', node: 'local', ran: 'etcdctl member remove 8e9e05c52164694d' });
    expect(waited).toEqual(['etcdctl member remove 8e9e05c52164694d']);
    expect(background).toEqual(['run-started', 'etcdctl member list']);
    journal.close();
  });

  it('puts a new journal\'s directory entry on disk in the background, and makes sure of it before the first target runs', () => {
    const target: EngineEvent = { type: 'target-started', at: at(), step: 'remove', node: 'local', ran: 'etcdctl member remove 8e9e05c52164694d' };
    // what blocked, in order, when the background sync of the directory calls back with `answer` (or not yet)
    const blockedOn = (name: string, answer: boolean | 'not yet') => {
      const blocked: string[] = [];
      const journal = Journal.create(dir, name, {
        sync: () => void blocked.push('file'),
        syncInBackground: (_fd, done) => done(true),
        syncDir: (d) => void blocked.push(d === dir ? 'dir' : `another dir ${d}`),
        syncDirInBackground: (d, done) => {
          expect(d).toBe(dir);
          if (answer !== 'not yet') done(answer);
        },
      });
      journal.append(started);
      expect(blocked).toEqual([]);
      journal.append(target);
      journal.append({ type: 'target-started', at: at(), step: 'stop', node: 'local', ran: 'systemctl stop etcd' });
      journal.close();
      return blocked;
    };
    expect(blockedOn('run-dir-back', true)).toEqual(['file', 'file']);
    expect(blockedOn('run-dir-out', 'not yet')).toEqual(['dir', 'file', 'file']);
    expect(blockedOn('run-dir-failed', false)).toEqual(['dir', 'file', 'file']);
  });

  it('keeps one background flush out at a time, follows it with one more for the lines written meanwhile, and closes the file only when it is back', () => {
    const pending: Array<(ok: boolean) => void> = [];
    const carried: number[] = [];
    let blocking = 0;
    const lineCount = () => readFileSync(journal.path, 'utf8').trim().split('\n').length;
    const journal = Journal.create(dir, 'run-1', {
      sync: () => void blocking++,
      syncInBackground: (_fd, done) => {
        carried.push(lineCount());
        pending.push(done);
      },
    });
    // the run's start starts a flush; the decisions after it, while it is out, only ask for one more
    record(journal, [started]);
    expect(blocking).toBe(0);
    journal.append({ type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [] });
    journal.append({ type: 'skipped', at: at(), step: 'check-health', reason: 'checked by hand', operator: 'alice' });
    journal.append({ type: 'retry', at: at(), step: 'check-health', operator: 'alice' });
    expect(carried).toEqual([1]);
    pending.shift()!(true);
    // back: the one more starts, carrying every line written so far
    expect(carried).toEqual([1, 4]);
    // closed while it is out: close flushes what is left itself, and the file stays open until the flush is back
    journal.append({ type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [] });
    journal.close();
    expect(blocking).toBe(1);
    expect(() => journal.append(started)).toThrow(/is closed/);
    // this process's descriptors open on the journal
    const openOnJournal = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === journal.path;
      } catch {
        return false; // the descriptor readdir itself used, gone by now
      }
    }).length;
    expect(openOnJournal()).toBe(1);
    pending.shift()!(true);
    expect(openOnJournal()).toBe(0);
  });

  it('does not count a background flush that failed: close flushes those lines again', () => {
    let blocking = 0;
    const journal = Journal.create(dir, 'run-1', {
      sync: () => void blocking++,
      syncInBackground: (_fd, done) => done(false),
    });
    record(journal, skippedFirstStep());
    expect(blocking).toBe(0);
    journal.close();
    expect(blocking).toBe(1);
  });

  it('flushes every operator decision that no step follows, and nothing twice', () => {
    let syncs = 0;
    const journal = Journal.create(dir, 'run-1', {
      sync: () => void syncs++,
      syncInBackground: (_fd, done) => {
        syncs++;
        done(true);
      },
    });
    record(journal, skippedFirstStep());
    expect(syncs).toBe(2);
    journal.close();
    expect(syncs).toBe(2);
  });

  it('refuses to create a journal for a run id that already has one', () => {
    Journal.create(dir, 'run-1').close();
    expect(() => Journal.create(dir, 'run-1')).toThrow(/already exists: continue that run with 'etcd-runbook resume/);
  });

  it('refuses a run id that is not a plain file name', () => {
    expect(() => Journal.create(dir, '../escape')).toThrow(OperatorError);
  });

  it('refuses to append after close', () => {
    const journal = Journal.create(dir, 'run-1');
    journal.close();
    expect(() => journal.append(started)).toThrow(/is closed/);
  });
});

describe('secrets never reach the journal', () => {
  it('redacts a private key streamed across output events, passwords in commands and errors, and the runbook', () => {
    const journal = Journal.create(dir, 'run-1');
    const runbook = {
      ...RUNBOOK,
      steps: RUNBOOK.steps.map((s) => (s.id === 'take-snapshot' ? { ...s, targets: [{ node: 'master-1', host: 'h', command: 'etcdctl --user root:hunter2 snapshot save x' }] } : s)),
    };
    const out = (chunk: string): EngineEvent => ({ type: 'output', at: at(), step: 'take-snapshot', node: 'master-1', stream: 'stdout', chunk });
    const middle = Math.floor(KEY.length / 2);
    const live = record(journal, [
      { ...started, runbook },
      ...runStep('check-health', ['local'], [], false),
      { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [ok('quorum')] },
      { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'alice' },
      { type: 'step-started', at: at(), step: 'take-snapshot' },
      { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'ETCDCTL_PASSWORD=hunter2 etcdctl --password=hunter2 snapshot save x' },
      out(`here is the key:\n${KEY.slice(0, middle)}`),
      out(KEY.slice(middle)),
      out('and after it\n'),
      { type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: false, exitCode: 1, error: 'auth failed for --user root:hunter2' },
    ]);
    journal.close();
    const text = readFileSync(journal.path, 'utf8');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(KEY_BODY.slice(0, 16));
    expect(text).not.toContain(KEY.split('\n').at(-3)!.slice(0, 16));
    expect(text).toContain('and after it');
    expect(text).toContain('[REDACTED]');
    const target = live.steps[1]!.targets[0]!;
    expect(target.ran).toBe('ETCDCTL_PASSWORD=[REDACTED] etcdctl --password=[REDACTED] snapshot save x');
    expect(target.outputTail).not.toContain(KEY_BODY.slice(0, 16));
    expect(target.error).toBe('auth failed for --user root:[REDACTED]');
  });

  it('copies an event only along the path to what it redacts, and never changes the one it was given', () => {
    const journal = Journal.create(dir, 'run-1');
    const runbook = {
      ...RUNBOOK,
      steps: RUNBOOK.steps.map((s) => (s.id === 'take-snapshot' ? { ...s, targets: [{ node: 'master-1', host: 'h', command: 'etcdctl --password=hunter2 snapshot save x' }] } : s)),
    };
    const given = { ...started, runbook };
    const before = JSON.stringify(given);
    const written = journal.append(given);
    expect(JSON.stringify(given)).toBe(before);
    expect(written).not.toBe(given);
    const step = (e: EngineEvent, id: string) => (e.type === 'run-started' ? e.runbook.steps.find((s) => s.id === id) : undefined);
    expect(step(written, 'take-snapshot')?.targets[0]?.command).toBe('etcdctl --password=[REDACTED] snapshot save x');
    // what held no secret is the given object itself
    expect(step(written, 'check-health')).toBe(step(given, 'check-health'));
    expect(written.type === 'run-started' && written.detection).toBe(given.detection);
    // a clean event is written as given
    const clean: EngineEvent = { type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [ok('quorum')] };
    expect(journal.append(clean)).toBe(clean);
    journal.close();
  });
});

describe('readJournal and replay', () => {
  it('replays the journal to the same state the run built live', () => {
    const journal = Journal.create(dir, 'run-1');
    const events: EngineEvent[] = [
      started,
      ...runStep('check-health', ['local'], [], false),
      { type: 'probe', at: at(), report: HEALTHY },
      ...runStep('take-snapshot', ['master-1'], [ok('quorum')]),
      { type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [{ check: 'would-lose-quorum', ok: false, message: 'no', overridable: true }, ok('quorum')] },
      { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: 'planned', operator: 'alice' },
      { type: 'skipped', at: at(), step: 'stop-etcd', reason: 'done by hand', operator: 'alice' },
      ...runStep('restart', ['local']),
      { type: 'run-finished', at: at(), status: 'succeeded' },
    ];
    const live = record(journal, events);
    journal.close();
    expect(live.status).toBe('succeeded');
    expect(replay(readJournal(journal.path))).toEqual(live);
  });

  it('ignores a torn last line and reports it', () => {
    const journal = Journal.create(dir, 'run-1');
    const live = record(journal, interrupted());
    journal.close();
    appendFileSync(journal.path, '{"type":"output","at":"2025-03-01T10:0');
    const torn: unknown[] = [];
    const events = readJournal(journal.path, (t) => torn.push(t));
    expect(torn).toEqual([{ line: interrupted().length + 1, text: '{"type":"output","at":"2025-03-01T10:0' }]);
    expect(replay(events)).toEqual(live);
  });

  it('cuts a torn last line off before appending on resume', () => {
    const journal = Journal.create(dir, 'run-1');
    record(journal, interrupted());
    journal.close();
    appendFileSync(journal.path, '{"type":"outp');
    const reopened = Journal.open(journal.path);
    expect(reopened.repaired).toEqual({ line: interrupted().length + 1, text: '{"type":"outp' });
    for (const event of resumeState(readJournal(journal.path), at(), 'bob')) reopened.append(event);
    reopened.close();
    const contents = readJournalContents(journal.path);
    expect(contents.torn).toBeUndefined();
    expect(contents.events.slice(-2).map((e) => e.type)).toEqual(['run-resumed', 'step-unknown']);
  });

  it('names file and line of a corrupt line that is not the last', () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, `${JSON.stringify(started)}\nnot json at all\n${JSON.stringify({ type: 'probe', at: at(), report: HEALTHY })}\n`);
    expect(() => readJournal(path)).toThrow(OperatorError);
    expect(() => readJournal(path)).toThrow(`${path}:2: not a journal event`);
  });

  it('rejects a line that is JSON but not an event', () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, `${JSON.stringify(started)}\n{"type":"rm -rf","at":"x"}\n`);
    expect(() => readJournal(path)).toThrow(`${path}:2:`);
  });

  it('names the event a replay refuses', () => {
    const events: EngineEvent[] = [started, { type: 'confirmed', at: at(), step: 'check-health', operator: 'x' }];
    expect(() => replay(events)).toThrow(/journal event 2 \(confirmed\) breaks the run's rules: cannot confirm: step check-health is pending/);
  });

  it('refuses a journal that does not start with run-started', () => {
    expect(() => replay([{ type: 'probe', at: at(), report: HEALTHY }])).toThrow(/not run-started/);
  });
});

describe('resume', () => {
  it('marks the step that was running unknown and does not re-run it', () => {
    const events = interrupted();
    const resumed = resumeState(events, '2025-03-02T09:00:00.000Z', 'bob');
    expect(resumed).toEqual([
      { type: 'run-resumed', at: '2025-03-02T09:00:00.000Z', operator: 'bob' },
      { type: 'step-unknown', at: '2025-03-02T09:00:00.000Z', step: 'take-snapshot' },
    ]);
    const state = replay([...events, ...resumed]);
    expect(state.cursor).toBe(1);
    expect(state.steps[0]!.status).toBe('succeeded');
    expect(state.steps[1]!.status).toBe('unknown');
    expect(state.steps[1]!.targets[0]!.status).toBe('unknown');
    expect(state.resumes).toEqual([{ at: '2025-03-02T09:00:00.000Z', operator: 'bob', previousStatus: 'in-progress' }]);
    expect(canApply(state, { type: 'step-started', at: at(), step: 'take-snapshot' }).ok).toBe(false);
    expect(canApply(state, { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'bob' }).ok).toBe(false);
  });

  it('with --yes, stops at the unknown step instead of running it again', async () => {
    const state = replay([...interrupted(), ...resumeState(interrupted(), at(), 'bob')]);
    const decision = await new ScriptedOperator().decide(state);
    expect(decision).toEqual({ type: 'abort', reason: 'step take-snapshot was running when the tool stopped: check what it did before re-running it' });
  });

  it('marks a step unknown when the tool died right after step-started', () => {
    const events = interrupted().slice(0, -2);
    expect(events.at(-1)!.type).toBe('step-started');
    expect(resumeState(events, at(), 'bob').map((e) => e.type)).toEqual(['run-resumed', 'step-unknown']);
  });

  it('continues at the first unfinished step when nothing was running', () => {
    const events = [started, ...runStep('check-health', ['local'], [], false)];
    const state = replay([...events, ...resumeState(events, at(), 'bob')]);
    expect(state.steps[1]!.status).toBe('pending');
    expect(state.cursor).toBe(1);
  });

  it('refuses to resume a run that succeeded', () => {
    const events: EngineEvent[] = [
      { ...started, runbook: { ...RUNBOOK, steps: [RUNBOOK.steps[0]!] } },
      ...runStep('check-health', ['local'], [], false),
      { type: 'run-finished', at: at(), status: 'succeeded' },
    ];
    expect(() => resumeState(events, at(), 'bob')).toThrow(/already succeeded: there is nothing to resume/);
  });
});

describe('defaultJournalDir', () => {
  it('prefers $ETCD_RUNBOOK_JOURNAL_DIR, then $XDG_STATE_HOME, then ~/.local/state', () => {
    expect(defaultJournalDir({ ETCD_RUNBOOK_JOURNAL_DIR: '/j', XDG_STATE_HOME: '/x' }, '/home/op')).toBe('/j');
    expect(defaultJournalDir({ XDG_STATE_HOME: '/x' }, '/home/op')).toBe('/x/etcd-runbook/journal');
    expect(defaultJournalDir({}, '/home/op')).toBe('/home/op/.local/state/etcd-runbook/journal');
  });
});

describe('latestJournal', () => {
  function write(name: string, events: EngineEvent[], mtime: number): string {
    const path = join(dir, `${name}.jsonl`);
    writeFileSync(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    utimesSync(path, mtime, mtime);
    return path;
  }

  it('picks the most recently written run that is still in progress', () => {
    const finished: EngineEvent[] = [started, { type: 'aborted', at: at(), reason: 'x', operator: 'a' }];
    write('old-unfinished', interrupted(), 1000);
    const wanted = write('newer-unfinished', interrupted(), 2000);
    write('newest-aborted', finished, 3000);
    writeFileSync(join(dir, 'newest-aborted.md'), '# transcript');
    expect(latestJournal(dir)).toBe(wanted);
  });

  it('finds nothing in a directory that does not exist', () => {
    expect(latestJournal(join(dir, 'none'))).toBeUndefined();
  });

  it('says which journal is unreadable rather than resuming an older run', () => {
    write('old-unfinished', interrupted(), 1000);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, 'garbage\n');
    expect(() => latestJournal(dir)).toThrow(/bad\.jsonl:1: not a journal event .* resume another run by naming its journal/);
  });
});

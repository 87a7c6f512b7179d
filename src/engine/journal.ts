import {
  closeSync,
  constants,
  fchmodSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  chmodSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, messageOf, OperatorError } from '../util/errors.js';
import { OutputRedactor, redact } from './redact.js';
import { EngineRuleError, initialState, reduce } from './reducer.js';
import type { EngineEvent, EngineEventType, RunState } from './types.js';

/**
 * The run's journal: every event, one JSON object per line, in
 * `<journal dir>/<run id>.jsonl`. The file is opened O_APPEND with mode 0600
 * (the directory 0700) and each line is written in one write before the
 * state moves, so the tool dying (a dropped SSH session, Ctrl-C, a crash)
 * loses nothing. Against the machine itself going down, the file is flushed
 * to disk (fdatasync) write-ahead: before anything is done to a node (each
 * target-started) the tool waits for the flush — but for a target that
 * changes nothing (a read-only step: run again after a crash, it does no
 * harm), whose flush goes to the background. The run's start (and a
 * resume), the new file's directory entry, a step's outcome, every
 * operator decision that is not followed by a step running, and the run's
 * end start a flush in the background (libuv's thread pool) and the run
 * goes on: nothing is done to a node before the next target-started, whose
 * flush (or close) carries everything before it and makes sure of the
 * directory entry, so the next step's guards need not wait for the disk.
 * One flush carries every line written before it, so the lines in between
 * (guards judged, a confirmation, output, probes) reach the disk with the
 * next flush instead of each costing a disk flush of its own, on the master
 * whose etcd is recovering on the same disk. After a power loss the journal
 * therefore never misses a command that was started: at worst it lacks what
 * followed it, and resume shows that step as unknown. A torn last line is
 * ignored and reported, and cut off before the run continues.
 *
 * Secrets never reach the file: every string in an event goes through
 * `redact`, and output chunks through a per-stream OutputRedactor (a key can
 * straddle two chunks). `append` returns the event as written — reduce that
 * one, so the live state and a replay of the journal are the same.
 */

const EVENT_TYPES: ReadonlySet<EngineEventType> = new Set<EngineEventType>([
  'run-started',
  'run-resumed',
  'applies-to-overridden',
  'guards-evaluated',
  'guard-overridden',
  'confirmed',
  'skipped',
  'retry',
  'step-started',
  'target-started',
  'output',
  'target-finished',
  'check-evaluated',
  'step-finished',
  'probe',
  'step-unknown',
  'aborted',
  'run-finished',
]);

/** The events whose line is on disk before append returns (see above): nothing runs before they are durable. */
const FLUSHED_BEFORE_GOING_ON: ReadonlySet<EngineEventType> = new Set<EngineEventType>([
  // write-ahead: on disk before the command, copy or API call runs
  'target-started',
]);

/** The events whose flush starts as they are written, in the background (see above); the others ride on the next flush. */
const FLUSHED_IN_BACKGROUND: ReadonlySet<EngineEventType> = new Set<EngineEventType>([
  // nothing is done to a node until the first target, whose flush carries them
  'run-started',
  'run-resumed',
  'applies-to-overridden',
  'step-unknown',
  'step-finished',
  // operator decisions that no target-started follows at once
  'skipped',
  'retry',
  'guard-overridden',
  'aborted',
  'run-finished',
]);

/** When an event's line goes to disk: before append returns, in the background now, or with the next flush. */
function flushFor(event: EngineEvent): 'before-going-on' | 'in-background' | 'with-the-next' {
  // a target that changes nothing does no harm run again after a crash: no write-ahead
  if (event.type === 'target-started' && event.changesNothing) return 'in-background';
  if (FLUSHED_BEFORE_GOING_ON.has(event.type)) return 'before-going-on';
  return FLUSHED_IN_BACKGROUND.has(event.type) ? 'in-background' : 'with-the-next';
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface JournalOptions {
  /** flushes the file, blocking (see FLUSHED_BEFORE_GOING_ON); fdatasync unless a test watches it */
  sync?: (fd: number) => void;
  /** flushes the file and calls back, saying whether it worked (see FLUSHED_IN_BACKGROUND); fs.fdatasync unless a test watches it */
  syncInBackground?: (fd: number, done: (ok: boolean) => void) => void;
  /** a new journal's directory entry to disk, and whether it worked: started as the file is made (fsync of the directory), unless a test watches it */
  syncDirInBackground?: (dir: string, done: (ok: boolean) => void) => void;
  /** the same, blocking: the first write-ahead flush does it when the background one is not back (or failed) */
  syncDir?: (dir: string) => void;
}

/** A last line cut short by a crash: dropped, and said so. */
export interface TornLine {
  line: number;
  /** the bytes of it that made it to disk */
  text: string;
}

export class Journal {
  private fd: number | undefined;
  private readonly sync: (fd: number) => void;
  private readonly syncInBackground: (fd: number, done: (ok: boolean) => void) => void;
  private readonly redactors = new Map<string, OutputRedactor>();
  /** lines written so far, and how many of them the last finished flush carried */
  private written = 0;
  private flushed = 0;
  /** a background flush is out (the fd stays open until it is back); another is wanted after it */
  private background: 'idle' | 'running' | 'again' = 'idle';
  /** closed while a background flush was out: the fd is closed when it is back */
  private closeWhenBack: number | undefined;
  /** a new journal's directory, until its entry is known to be on disk (see create) */
  private dirToSync: string | undefined;
  private readonly syncDir: (dir: string) => void;

  private constructor(
    readonly path: string,
    fd: number,
    options: JournalOptions,
    /** the torn last line Journal.open cut off, if any */
    readonly repaired?: TornLine,
  ) {
    this.fd = fd;
    this.sync = options.sync ?? fdatasyncSync;
    this.syncInBackground = options.syncInBackground ?? ((fd, done) => fdatasync(fd, (err) => done(!err)));
    this.syncDir = options.syncDir ?? syncDir;
  }

  /** A new journal for a new run; refuses to touch an existing one. */
  static create(dir: string, runId: string, options: JournalOptions = {}): Journal {
    if (!RUN_ID.test(runId)) throw new OperatorError(`run id ${JSON.stringify(runId)} is not usable as a file name (letters, digits, . _ -)`);
    ensurePrivateDir(dir);
    const path = join(dir, `${runId}.jsonl`);
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new OperatorError(`journal ${path} already exists: continue that run with 'etcd-runbook resume ${path}'`);
      }
      throw new OperatorError(`cannot create journal ${path}: ${messageOf(err)}`);
    }
    fchmodSync(fd, 0o600); // whatever the umask
    const journal = new Journal(path, fd, options);
    // so the new file survives a crash too: its directory entry goes to disk
    // in the background, and the first write-ahead flush makes sure of it
    journal.dirToSync = dir;
    (options.syncDirInBackground ?? syncDirInBackground)(dir, (ok) => {
      if (ok) journal.dirToSync = undefined;
    });
    return journal;
  }

  /** Continue appending to an existing journal (resume); a torn last line is cut off first. */
  static open(path: string, options: JournalOptions = {}): Journal {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_APPEND);
    } catch (err) {
      throw new OperatorError(`cannot open journal ${path}: ${messageOf(err)}`);
    }
    if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
    const content = readFileSync(path);
    let repaired: TornLine | undefined;
    if (content.length > 0 && content[content.length - 1] !== 0x0a) {
      const cut = content.lastIndexOf(0x0a) + 1;
      const last = content.subarray(cut).toString('utf8');
      if (parseEvent(last) !== undefined) {
        writeAll(fd, Buffer.from('\n')); // complete but for its newline
      } else {
        ftruncateSync(fd, cut);
        repaired = { line: countLines(content.subarray(0, cut)) + 1, text: last };
      }
      (options.sync ?? fdatasyncSync)(fd);
    }
    return new Journal(path, fd, options, repaired);
  }

  /** Write one event (redacted), flushing it to disk when its type says so; returns the event as written. */
  append(event: EngineEvent): EngineEvent {
    if (this.fd === undefined) throw new OperatorError(`journal ${this.path} is closed`);
    const written = this.sanitize(event);
    writeAll(this.fd, Buffer.from(`${JSON.stringify(written)}\n`, 'utf8'));
    this.written++;
    const when = flushFor(written);
    if (when === 'before-going-on') this.flush();
    else if (when === 'in-background') this.flushInBackground();
    return written;
  }

  /** Everything written so far to disk, before returning. */
  flush(): void {
    if (this.fd === undefined) return;
    if (this.dirToSync !== undefined) {
      this.syncDir(this.dirToSync);
      this.dirToSync = undefined;
    }
    if (this.flushed === this.written) return;
    const carried = this.written;
    this.sync(this.fd);
    this.flushed = Math.max(this.flushed, carried);
  }

  /** Everything written so far to disk, without waiting for it (one flush out at a time; one more after it if lines came meanwhile). */
  private flushInBackground(): void {
    if (this.background !== 'idle') {
      this.background = 'again';
      return;
    }
    if (this.fd === undefined || this.flushed === this.written) return;
    const fd = this.fd;
    const carried = this.written;
    this.background = 'running';
    this.syncInBackground(fd, (ok) => {
      // a failed one carried nothing: the next blocking flush (or close) does it again, and reports its error
      if (ok) this.flushed = Math.max(this.flushed, carried);
      const again = this.background === 'again';
      this.background = 'idle';
      if (this.closeWhenBack !== undefined) {
        closeSync(this.closeWhenBack);
        this.closeWhenBack = undefined;
      } else if (again) {
        this.flushInBackground();
      }
    });
  }

  /** Flushes what is left (waiting for it) and closes the file; a background flush still out closes it when it is back. */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    if (this.background === 'idle') closeSync(this.fd);
    else this.closeWhenBack = this.fd;
    this.fd = undefined;
  }

  private sanitize(event: EngineEvent): EngineEvent {
    if (event.type === 'output') {
      const key = `${event.step}\0${event.node}\0${event.stream}`;
      let redactor = this.redactors.get(key);
      if (!redactor) this.redactors.set(key, (redactor = new OutputRedactor()));
      return { ...redactStrings({ ...event, chunk: '' }), chunk: redactor.push(event.chunk) };
    }
    if (event.type === 'target-started') {
      // a new command on this node: a key left open by an earlier one does not carry over
      for (const stream of ['stdout', 'stderr']) this.redactors.delete(`${event.step}\0${event.node}\0${stream}`);
    }
    return redactStrings(event);
  }
}

/** Every string anywhere in a value through redact(): the value itself where nothing changed, copies on the path to what did. */
function redactStrings<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (value === null || typeof value !== 'object') return value;
  // copied only where something was redacted: an event is mostly probe
  // reports and rendered steps with no secret in them, and copying all of
  // it for every line was a good part of a run's garbage
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const redacted: unknown = redactStrings(value[i]);
      if (redacted !== value[i]) (copy ??= [...value])[i] = redacted;
    }
    return (copy ?? value) as T;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(record)) {
    const redacted = redactStrings(v);
    if (redacted !== v) (copy ??= { ...record })[key] = redacted;
  }
  return (copy ?? value) as T;
}

function writeAll(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset);
}

function ensurePrivateDir(dir: string): void {
  try {
    const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
    // only a directory made here is tightened: --journal-dir may name a shared one
    if (created !== undefined) chmodSync(dir, 0o700);
  } catch (err) {
    throw new OperatorError(`cannot create journal directory ${dir}: ${messageOf(err)}`);
  }
}

/** So the new file's directory entry survives a crash too. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // not every filesystem lets a directory be fsync'd; the file itself is
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** syncDir without waiting; when it fails, the blocking one is tried at the first write-ahead flush */
function syncDirInBackground(dir: string, done: (ok: boolean) => void): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY);
  } catch {
    done(false);
    return;
  }
  fsync(fd, (err) => {
    closeSync(fd);
    done(!err);
  });
}

function countLines(buffer: Buffer): number {
  let n = 0;
  for (const byte of buffer) if (byte === 0x0a) n++;
  return n;
}

function parseEvent(line: string): EngineEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { type, at } = value as { type?: unknown; at?: unknown };
  if (typeof type !== 'string' || !EVENT_TYPES.has(type as EngineEventType) || typeof at !== 'string') return undefined;
  return value as EngineEvent;
}

export interface JournalContents {
  events: EngineEvent[];
  /** a last line cut short by a crash, ignored */
  torn?: TornLine;
}

/**
 * Every event in a journal. A torn last line (a crash mid-write) is ignored
 * and reported in `torn`; any other line that is not an event is an error
 * naming file:line.
 */
export function readJournalContents(path: string): JournalContents {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OperatorError(`cannot read journal ${path}: ${messageOf(err)}`);
  }
  const lines = text.split('\n');
  const terminated = text.endsWith('\n');
  const events: EngineEvent[] = [];
  let torn: TornLine | undefined;
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const event = parseEvent(line);
    if (event) {
      events.push(event);
      return;
    }
    if (i === lines.length - 1 && !terminated) {
      torn = { line: i + 1, text: line };
      return;
    }
    throw new OperatorError(`${path}:${i + 1}: not a journal event (corrupt line): ${line.slice(0, 80)}`);
  });
  if (events.length === 0) throw new OperatorError(`${path}: the journal holds no events`);
  return torn ? { events, torn } : { events };
}

/** The events of a journal; `onTorn` hears about a torn last line (ignored). */
export function readJournal(path: string, onTorn?: (torn: TornLine) => void): EngineEvent[] {
  const { events, torn } = readJournalContents(path);
  if (torn) onTorn?.(torn);
  return events;
}

/** The state the events lead to. Throws naming the event (= its line) the rules refuse. */
export function replay(events: readonly EngineEvent[]): RunState {
  const first = events[0];
  if (!first || first.type !== 'run-started') {
    throw new OperatorError(`journal event 1 is ${first ? first.type : 'missing'}, not run-started: not a run journal`);
  }
  let state = initialState(first);
  events.slice(1).forEach((event, i) => {
    try {
      state = reduce(state, event);
    } catch (err) {
      if (err instanceof EngineRuleError) throw new OperatorError(`journal event ${i + 2} (${event.type}) breaks the run's rules: ${err.message}`, ExitCode.runFailed);
      throw err;
    }
  });
  return state;
}

/**
 * The events that resume a run: run-resumed, then step-unknown for a step
 * that was running when the tool died (started, never finished) — it is
 * shown as "unknown — check before re-running", never re-run by itself.
 */
export function resumeState(events: readonly EngineEvent[], at: string, operator: string): EngineEvent[] {
  const state = replay(events);
  if (state.status === 'succeeded') throw new OperatorError(`run ${state.runId} already succeeded: there is nothing to resume`);
  const resumed: EngineEvent[] = [{ type: 'run-resumed', at, operator }];
  for (const step of state.steps) {
    if (step.status === 'running') resumed.push({ type: 'step-unknown', at, step: step.id });
  }
  return resumed;
}

/** $ETCD_RUNBOOK_JOURNAL_DIR, else $XDG_STATE_HOME/etcd-runbook/journal, else ~/.local/state/etcd-runbook/journal. */
export function defaultJournalDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.ETCD_RUNBOOK_JOURNAL_DIR) return env.ETCD_RUNBOOK_JOURNAL_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'etcd-runbook', 'journal');
  return join(home, '.local', 'state', 'etcd-runbook', 'journal');
}

/**
 * The journal `resume` continues without an argument: the most recently
 * written one whose run is still in progress. An unreadable journal newer
 * than that is an error (it may be the run the operator means).
 */
export function latestJournal(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OperatorError(`cannot read journal directory ${dir}: ${messageOf(err)}`);
  }
  const journals = names
    .map((name) => {
      const path = join(dir, name);
      return { path, mtimeMs: statSync(path).mtimeMs };
    })
    .sort((a, b) => b.mtimeMs - a.mtimeMs || b.path.localeCompare(a.path));
  for (const { path } of journals) {
    let state: RunState;
    try {
      state = replay(readJournal(path));
    } catch (err) {
      throw new OperatorError(`${messageOf(err)} — resume another run by naming its journal: etcd-runbook resume <journal.jsonl>`);
    }
    if (state.status === 'in-progress') return path;
  }
  return undefined;
}

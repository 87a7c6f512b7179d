import { shellQuote } from '../util/shell.js';

/**
 * The programs a lab node runs in place of systemd and the kubelet. They are
 * written into the lab directory at start (nothing to build), so runbooks
 * stop and start members through real shell commands, as on a real master.
 *
 * Paths in a node's configuration are the node's own (/var/lib/etcd,
 * /etc/kubernetes/pki/etcd/server.crt): the launchers prefix every absolute
 * path value with the node root, as if etcd ran chrooted there. So a lab
 * node root looks like a real master's / and discovery reads it as one.
 *
 * Every process started records itself in the lab slot's pids file with the
 * lab marker, and carries ETCD_RUNBOOK_LAB=<lab dir> in its environment, so a
 * crashed owner's leftovers are recognised and reaped (slots.ts).
 */
export interface NodeScriptParams {
  /** the node's root directory (its "/") */
  root: string;
  /** the lab directory: the marker every lab process carries */
  labDir: string;
  /** the slot's pids file */
  pidsFile: string;
}

/** `alive PID`: running (not a zombie) and started by this lab. */
const ALIVE_FN = `alive() {
  [ -n "\${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  [ "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ] || return 1
  tr '\\0' '\\n' < "/proc/$1/environ" 2>/dev/null | grep -qxF "ETCD_RUNBOOK_LAB=$LAB"
}
# stop PID: SIGTERM (continuing a frozen process first), then wait; SIGKILL after 20 s
stop_pid() {
  kill -CONT "$1" 2>/dev/null; kill -TERM "$1" 2>/dev/null
  i=0
  while alive "$1"; do
    i=$((i + 1))
    if [ "$i" -eq 200 ]; then kill -KILL "$1" 2>/dev/null; fi
    if [ "$i" -ge 300 ]; then echo "pid $1 did not exit" >&2; return 1; fi
    sleep 0.1
  done
}`;

interface ServiceScript {
  /** what the script stands in for (its comment line) */
  about: string;
  /** extra shell lines after ROOT/LAB/PIDS (names, paths) */
  vars: string;
  /** the service's name as the shell sees it: a literal or "$name" */
  label: string;
  /** the positional parameter holding the verb: 1, or 2 after a NAME */
  verb: 1 | 2;
  usage: string;
  /** lines before the launch (e.g. where the service's log ends now) */
  beforeStart?: string;
  /** the subshell that becomes the service process (it must exec) */
  launch: string;
  /** lines after the pid is recorded, unless --no-block (e.g. wait until the service says it is ready) */
  afterStart?: string;
}

/**
 * A lab stand-in for `systemctl start|stop|is-active|status UNIT`: the
 * process runs detached (its own session) with a pidfile, recorded in the
 * slot's pids file; stop is SIGTERM (after SIGCONT) and waits for the exit;
 * is-active exits 0 or 3, like systemctl. `start --no-block` returns once
 * the process is launched, as systemctl's does (the lab's own harness uses
 * it to start members one at a time while quorum is lost).
 */
function serviceScript(p: NodeScriptParams, o: ServiceScript): string {
  const verb = `$${o.verb}`;
  return `#!/bin/sh
# etcd-runbook lab: ${o.about}
set -u
ROOT=${shellQuote(p.root)}
LAB=${shellQuote(p.labDir)}
PIDS=${shellQuote(p.pidsFile)}
${o.vars}
${ALIVE_FN}
# the recorded pid, read by the shell itself (no cat in a subshell: is-active is what guards run)
current() { pid=; [ -r "$PIDFILE" ] && read -r pid 2>/dev/null < "$PIDFILE"; }
case "\${${o.verb}:-}" in
  is-active|status)
    current
    if alive "$pid"; then [ "${verb}" = status ] && echo "${o.label} active (pid $pid)"; exit 0; fi
    [ "${verb}" = status ] && echo "${o.label} inactive"
    exit 3
    ;;
  start)
    current
    if alive "$pid"; then exit 0; fi
    mkdir -p "$ROOT/run" "$ROOT/var/log"
${o.beforeStart ?? ''}
    (
${o.launch}
    ) &
    pid=$!
    echo "$pid" > "$PIDFILE"
    printf '%s\\t%s\\n' "$pid" "$LAB" >> "$PIDS"
    [ "\${${o.verb + 1}:-}" != --no-block ] || exit 0
${o.afterStart ?? ''}
    ;;
  stop)
    current
    if alive "$pid"; then stop_pid "$pid" || exit 1; fi
    rm -f "$PIDFILE"
    ;;
  *)
    echo "usage: $0 ${o.usage}" >&2
    exit 2
    ;;
esac
`;
}

/**
 * What `systemctl start etcd` waits for with the Type=notify unit every etcd
 * install ships (Debian's, kubeasz's): etcd sends READY=1
 * once it has published itself to the cluster, so start returns then, or
 * fails when etcd exits first, or after systemd's default 90 s start timeout
 * (the service is then stopped). A member that cannot reach quorum keeps its
 * start waiting until enough others start: "the command may hang at first;
 * go on on the other nodes; once more than half are up it returns", as
 * restore procedures that start every member together observe. The lab
 * reads readiness from the lines etcd logged since this start (its zap and capnslog wording), polling every
 * 10 ms; the state is read from /proc by the shell itself (etcd is its child).
 */
const ETCD_READY_WAIT = `    read -r up _ < /proc/uptime; deadline=$((\${up%.*} + 90))
    while :; do
      if tail -c +$((from + 1)) "$LOG" 2>/dev/null | grep -q -e 'published local member to cluster' -e 'ready to serve client requests'; then exit 0; fi
      st=; read -r st 2>/dev/null < "/proc/$pid/stat" || st=
      st=\${st##*) }
      if [ -z "$st" ] || [ "\${st%% *}" = Z ]; then echo "etcd-service: etcd exited before it was ready; the end of $LOG:" >&2; tail -n 5 "$LOG" >&2; exit 1; fi
      read -r up _ < /proc/uptime
      if [ "\${up%.*}" -ge "$deadline" ]; then
        echo "etcd-service: etcd was not ready within 90 s (it has not joined a cluster with quorum); stopping it" >&2
        stop_pid "$pid"; rm -f "$PIDFILE"; exit 1
      fi
      sleep 0.01
    done`;

/**
 * \`etcd-service start|stop|is-active|status\` for a systemd-layout node: what
 * `systemctl … etcd` does with an etcd.service whose EnvironmentFile is
 * /etc/etcd/etcd.conf.
 */
export function etcdServiceScript(p: NodeScriptParams & { etcdBinary: string }): string {
  return serviceScript(p, {
    about: 'stands in for systemctl start|stop|is-active etcd on this node.',
    vars: `ETCD=${shellQuote(p.etcdBinary)}
ENV_FILE="$ROOT/etc/etcd/etcd.conf"
PIDFILE="$ROOT/run/etcd.pid"
LOG="$ROOT/var/log/etcd.log"
[ "\${1:-}" != start ] || [ -f "$ENV_FILE" ] || { echo "etcd-service: $ENV_FILE is missing" >&2; exit 6; }`,
    label: 'etcd',
    verb: 1,
    usage: 'start|stop|is-active|status',
    launch: `      for v in $(env | sed -n 's/^\\(ETCD_[A-Za-z0-9_]*\\)=.*/\\1/p'); do unset "$v"; done
      set -a
      . "$ENV_FILE"
      set +a
      # the node's own paths, under its root
      for v in $(env | sed -n 's/^\\(ETCD_[A-Za-z0-9_]*\\)=\\/.*/\\1/p'); do eval "$v=\\"\\$ROOT\\$$v\\""; export "$v"; done
      export ETCD_RUNBOOK_LAB="$LAB"
      exec setsid "$ETCD" >>"$LOG" 2>&1 </dev/null`,
    // where this start's lines begin in the log etcd appends to
    beforeStart: `    from=0; [ ! -f "$LOG" ] || from=$(wc -c < "$LOG")`,
    afterStart: ETCD_READY_WAIT,
  });
}

/**
 * `lab-service NAME start|stop|is-active|status` for a systemd-layout node:
 * stands in for the services around etcd that a runbook stops and starts
 * (kubelet, kube-apiserver…) with a process that runs until stopped, so a
 * runbook's stop/start of them is real and observable.
 */
export function standInServiceScript(p: NodeScriptParams): string {
  return serviceScript(p, {
    about: 'stands in for systemctl start|stop|is-active NAME (kubelet, kube-apiserver…) on this node.',
    vars: `name="\${1:-}"
case "$name" in
  ''|*/*|.*) echo "usage: $0 NAME start|stop|is-active|status" >&2; exit 2 ;;
esac
PIDFILE="$ROOT/run/$name.pid"`,
    label: '$name',
    verb: 2,
    usage: 'NAME start|stop|is-active|status',
    launch: `      export ETCD_RUNBOOK_LAB="$LAB"
      exec setsid sleep 2147483647 >/dev/null 2>&1 </dev/null`,
  });
}

/**
 * `kubelet-service start|stop|is-active|status` for a kubeadm-layout node:
 * runs the lab kubelet detached. Stopping the kubelet leaves its pods
 * running, as a real kubelet does.
 */
export function kubeletServiceScript(p: NodeScriptParams & { node: string; kubeletJs: string; etcdBinary: string; yamlModule: string }): string {
  return serviceScript(p, {
    about: 'stands in for systemctl start|stop|is-active kubelet on this node (its pods outlive it).',
    vars: `PIDFILE="$ROOT/run/kubelet.pid"
LOG="$ROOT/var/log/kubelet.log"`,
    label: 'kubelet',
    verb: 1,
    usage: 'start|stop|is-active|status',
    launch: `      export ETCD_RUNBOOK_LAB="$LAB" LAB_NODE=${shellQuote(p.node)} LAB_NODE_ROOT="$ROOT" LAB_PIDS_FILE="$PIDS" \\
        LAB_ETCD_BINARY=${shellQuote(p.etcdBinary)} LAB_YAML_MODULE=${shellQuote(p.yamlModule)}
      exec setsid ${shellQuote(process.execPath)} ${shellQuote(p.kubeletJs)} >>"$LOG" 2>&1 </dev/null`,
  });
}

/**
 * The lab kubelet: a small supervisor that runs what the node's manifests
 * directory holds, like the kubelet's static pods. A pod is started when its
 * manifest appears, restarted when the manifest changes, and stopped
 * (SIGTERM, then SIGKILL after 20 s) when the manifest is moved out. A pod
 * whose process dies is left dead until its manifest changes or the kubelet
 * restarts (so an injected kill stays injected). Containers named etcd run
 * the real etcd binary with the manifest's command line (absolute paths
 * under the node root, as hostPath mounts would map them); any other
 * container is a stand-in process. Pod state lives in pidfiles, so pods
 * outlive a kubelet restart and are adopted again.
 */
export const KUBELET_JS = String.raw`'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const YAML = require(process.env.LAB_YAML_MODULE);

const root = process.env.LAB_NODE_ROOT;
const lab = process.env.ETCD_RUNBOOK_LAB;
const pidsFile = process.env.LAB_PIDS_FILE;
const etcdBinary = process.env.LAB_ETCD_BINARY || 'etcd';
const manifests = path.join(root, 'etc/kubernetes/manifests');
const stateDir = path.join(root, 'run/lab-kubelet/pods');
const logDir = path.join(root, 'var/log/pods');
fs.mkdirSync(stateDir, { recursive: true });
fs.mkdirSync(logDir, { recursive: true });

const log = (msg) => process.stdout.write(new Date().toISOString() + ' ' + msg + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return fs.readFileSync('/proc/' + pid + '/environ', 'utf8').split('\0').includes('ETCD_RUNBOOK_LAB=' + lab);
  } catch {
    return false;
  }
}

const stateFile = (key) => path.join(stateDir, key + '.json');
function readState(key) {
  try { return JSON.parse(fs.readFileSync(stateFile(key), 'utf8')); } catch { return undefined; }
}
function writeState(key, state) {
  fs.writeFileSync(stateFile(key) + '.tmp', JSON.stringify(state));
  fs.renameSync(stateFile(key) + '.tmp', stateFile(key));
}
function stateKeys() {
  try { return fs.readdirSync(stateDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)); } catch { return []; }
}

function desiredPods() {
  const pods = new Map();
  let files = [];
  try { files = fs.readdirSync(manifests); } catch { return pods; }
  for (const file of files) {
    if (!/\.(ya?ml|json)$/.test(file) || file.startsWith('.')) continue;
    const full = path.join(manifests, file);
    let text;
    try {
      if (!fs.statSync(full).isFile()) continue;
      text = fs.readFileSync(full, 'utf8');
    } catch { continue; }
    pods.set(file.replace(/\.(ya?ml|json)$/, ''), { file: full, text, hash: crypto.createHash('sha256').update(text).digest('hex') });
  }
  return pods;
}

/** the pod's command line, absolute paths under the node root */
function commandOf(text) {
  const pod = YAML.parse(text);
  const container = pod && pod.spec && Array.isArray(pod.spec.containers) ? pod.spec.containers[0] : undefined;
  if (!container) throw new Error('no containers');
  const argv = [...(container.command || []), ...(container.args || [])].map(String);
  if (argv.length === 0) throw new Error('container ' + container.name + ' has no command');
  const under = (arg) => {
    const m = /^(--[^=]+=)?(\/.*)$/.exec(arg);
    return m ? (m[1] || '') + path.join(root, m[2]) : arg;
  };
  if (path.basename(argv[0]) === 'etcd') return { name: container.name, bin: etcdBinary, args: argv.slice(1).map(under) };
  // a stand-in (kube-apiserver and friends): a process that runs until stopped
  return { name: container.name, bin: 'sleep', args: ['2147483647'] };
}

function startPod(key, want) {
  let command;
  try { command = commandOf(want.text); } catch (err) {
    log('pod ' + key + ': cannot read ' + want.file + ': ' + err.message);
    writeState(key, { hash: want.hash, status: 'invalid', error: err.message });
    return;
  }
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD') && !k.startsWith('LAB_')) env[k] = v;
  env.ETCD_RUNBOOK_LAB = lab;
  env.LAB_POD = key;
  const out = fs.openSync(path.join(logDir, key + '.log'), 'a');
  const child = spawn(command.bin, command.args, { detached: true, stdio: ['ignore', out, out], env });
  fs.closeSync(out);
  child.on('error', (err) => log('pod ' + key + ': ' + err.message));
  child.unref();
  if (!child.pid) return;
  fs.appendFileSync(pidsFile, child.pid + '\t' + lab + '\n');
  writeState(key, { pid: child.pid, hash: want.hash, status: 'running', startedAt: new Date().toISOString() });
  log('pod ' + key + ' started: pid ' + child.pid + ' ' + command.bin + ' ' + command.args.join(' '));
}

async function stopPod(key, state) {
  const pid = state && state.pid;
  if (alive(pid)) {
    try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGTERM'); } catch {}
    for (let i = 0; alive(pid) && i < 300; i++) {
      if (i === 200) try { process.kill(pid, 'SIGKILL'); } catch {}
      await sleep(100);
    }
    log('pod ' + key + ' stopped: pid ' + pid);
  }
}

async function sync() {
  const desired = desiredPods();
  for (const [key, want] of desired) {
    const state = readState(key);
    if (!state) startPod(key, want);
    else if (state.hash !== want.hash) {
      await stopPod(key, state);
      startPod(key, want);
    } else if (state.status === 'running' && !alive(state.pid)) {
      writeState(key, { ...state, status: 'exited', exitedAt: new Date().toISOString() });
      log('pod ' + key + ' exited: pid ' + state.pid + ' (not restarted until its manifest changes or the kubelet restarts)');
    }
  }
  for (const key of stateKeys()) {
    if (desired.has(key)) continue;
    await stopPod(key, readState(key));
    fs.rmSync(stateFile(key), { force: true });
  }
}

// a (re)started kubelet restarts pods that are not running, and adopts those that are
for (const key of stateKeys()) {
  const state = readState(key);
  if (!state || !alive(state.pid)) fs.rmSync(stateFile(key), { force: true });
}
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
process.on('SIGINT', () => { stopping = true; });
log('lab kubelet for ' + process.env.LAB_NODE + ' watching ' + manifests);
(async () => {
  while (!stopping) {
    try { await sync(); } catch (err) { log('sync failed: ' + (err && err.stack || err)); }
    await sleep(200);
  }
  log('lab kubelet stopped (pods keep running)');
  process.exit(0);
})();
`;

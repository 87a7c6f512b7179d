#!/usr/bin/env node
'use strict';
/**
 * The npm package's `etcd-runbook` command: loads the bundle
 * (etcd-runbook-bundle.cjs beside this file) with a V8 code cache.
 *
 * Compiling the 2.4 MB bundle is the largest part of start-up (~80 ms to
 * parse it, as much again for the functions the first frame runs); Node 20
 * has no compile cache of its own (module.enableCompileCache is Node 22).
 * The cache is written when the process exits, holding every function
 * compiled by then, so the next start skips their compilation. It is
 * rewritten whenever a run compiled more than the cache held (the first
 * interactive view after a `--help`). A cache V8 rejects (another node, a
 * new bundle) is replaced; one that cannot be read or written is ignored:
 * the command starts as it would without it.
 *
 * The cache lives beside the bundle when that is writable (a root-owned
 * global install run by root), else in $XDG_CACHE_HOME/etcd-runbook or
 * ~/.cache/etcd-runbook. Its name carries the bundle's size and mtime and
 * node's version, so a stale cache is never offered to V8.
 */
const { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } = require('node:fs');
const Module = require('node:module');
const { homedir } = require('node:os');
const { join } = require('node:path');
const vm = require('node:vm');

const bundle = join(__dirname, 'etcd-runbook-bundle.cjs');
const source = readFileSync(bundle, 'utf8');

function cacheName() {
  const info = statSync(bundle);
  return `.etcd-runbook-bundle-${info.size}-${Math.floor(info.mtimeMs)}-${process.version}-${process.arch}.v8cache`;
}

function cacheCandidates(name) {
  const home = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return [join(__dirname, name), join(home, 'etcd-runbook', name)];
}

function readCache(paths) {
  for (const path of paths) {
    try {
      return { path, data: readFileSync(path) };
    } catch {
      // not there, or not readable: the next place
    }
  }
  return undefined;
}

/** temp file then rename: a reader never sees half a cache */
function writeCache(paths, data) {
  for (const path of paths) {
    const temp = `${path}.${process.pid}.tmp`;
    try {
      if (path !== paths[0]) mkdirSync(join(path, '..'), { recursive: true });
      const fd = openSync(temp, 'w', 0o644);
      try {
        writeSync(fd, data);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
      return;
    } catch {
      try {
        unlinkSync(temp);
      } catch {
        // never created
      }
    }
  }
}

const paths = cacheCandidates(cacheName());
const cached = readCache(paths);
const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData: cached?.data });
const accepted = cached !== undefined && !script.cachedDataRejected;

process.once('exit', () => {
  try {
    const data = script.createCachedData();
    if (!accepted || data.length > cached.data.length) writeCache(paths, data);
  } catch {
    // a cache is an optimisation: never a reason to fail
  }
});

const bundleModule = new Module(bundle, module);
bundleModule.filename = bundle;
bundleModule.paths = Module._nodeModulePaths(__dirname);
bundleModule.loaded = true;
script.runInThisContext().call(bundleModule.exports, bundleModule.exports, Module.createRequire(bundle), bundleModule, bundle, __dirname);

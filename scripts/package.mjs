#!/usr/bin/env node
/**
 * The CLI as one file, in two forms.
 *
 * 1. `npm run build` (after tsc): esbuild bundles src/cli/main.ts and every
 *    dependency into one CommonJS file, dist/etcd-runbook-bundle.cjs, which
 *    the npm package's bin, dist/etcd-runbook.cjs (scripts/bin-launcher.cjs,
 *    mode 0755), loads with a V8 code cache. Node then reads one file instead
 *    of resolving and compiling hundreds of ESM modules (ink's alone ~260 ms),
 *    and from the second start on compiles almost nothing, so the installed
 *    command starts as fast as the executable. The bundle has
 *    - the shipped runbooks (runbooks/*.yaml) embedded as text, handed to
 *      src/runbook/loader.ts through globalThis.__ETCD_RUNBOOK_EMBEDDED_RUNBOOKS__
 *      only inside the executable (node:sea isSea()); under a plain node it
 *      reads the package's runbooks/ like dist/src does, and the kubeadm lab
 *      (whose kubelet runs on that node) stays available;
 *    - etcd3's .proto files embedded as a protobufjs JSON descriptor
 *      (@grpc/proto-loader fromJSON instead of loadSync from node_modules);
 *    - ssh2's and cpu-features' optional native bindings replaced by a
 *      module that throws, so ssh2 uses its pure-JS crypto;
 *    - yoga-layout (ink's layout engine, WebAssembly inlined as base64)
 *      rewritten without its top-level await: the entry waits for the wasm
 *      to instantiate before loading the CLI;
 *    - ink's DEV=true React-devtools hook (top-level await) left out.
 * 2. `npm run package`: one file an operator copies onto a broken master.
 *    Node's single-executable application (SEA, linux-x64) made from that
 *    same bundle, with V8's code cache for it made at build time
 *    (`useCodeCache`): a blob made by `node --experimental-sea-config`, injected
 *    with postject into a copy of this node binary → dist-package/etcd-runbook.
 *    It is node itself and needs no node_modules and no Node install beside it.
 *
 *   node scripts/package.mjs               build both
 *   node scripts/package.mjs --if-stale    rebuild each only when an input is newer than it
 *   node scripts/package.mjs --bundle-only the bundle alone (`npm run build`)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OUT_DIR = join(ROOT, 'dist-package');
/** the executable's script, and what the npm package's bin loads */
export const BUNDLE = join(ROOT, 'dist', 'etcd-runbook-bundle.cjs');
/** the npm package's bin: scripts/bin-launcher.cjs, which loads the bundle with a V8 code cache */
export const BIN = join(ROOT, 'dist', 'etcd-runbook.cjs');
const LAUNCHER = join(ROOT, 'scripts', 'bin-launcher.cjs');
export const EXECUTABLE = join(OUT_DIR, 'etcd-runbook');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const require = createRequire(join(ROOT, 'package.json'));

/** runbooks/*.yaml by file name, and the shared step files they include as shared/<name> */
export function embeddedRunbooks() {
  const out = {};
  for (const sub of ['', 'shared/']) {
    const dir = join(ROOT, 'runbooks', sub);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) out[`${sub}${name}`] = readFileSync(join(dir, name), 'utf8');
  }
  return out;
}

/** etcd3's protos, parsed exactly as its loadSync call would, as protobufjs JSON. */
function etcdProtoJson() {
  const etcd3Dir = dirname(require.resolve('etcd3/package.json'));
  const protoLoaderDir = dirname(require.resolve('@grpc/proto-loader/package.json'));
  const { loadProtosWithOptionsSync } = require(join(protoLoaderDir, 'build', 'src', 'util.js'));
  const root = loadProtosWithOptionsSync(join(etcd3Dir, 'proto', 'rpc.proto'), { keepCase: true });
  return root.toJSON();
}

/** esbuild plugins: embedded protos, no native bindings, yoga without top-level await. */
function plugins() {
  return [
    {
      name: 'etcd3-embedded-protos',
      setup(build) {
        build.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
          const source = readFileSync(args.path, 'utf8');
          const call = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, \{/;
          if (!call.test(source)) throw new Error(`${args.path}: the loadSync(rpc.proto) call changed; update scripts/package.mjs`);
          const json = JSON.stringify(etcdProtoJson());
          return { contents: source.replace(call, `(0, proto_loader_1.fromJSON)(${json}, {`), loader: 'js' };
        });
      },
    },
    {
      name: 'no-native-bindings',
      setup(build) {
        // ssh2 and cpu-features try these in try/catch and fall back to JS
        build.onResolve({ filter: /\.node$|^cpu-features$/ }, (args) => ({ path: args.path, namespace: 'no-native' }));
        build.onLoad({ filter: /.*/, namespace: 'no-native' }, (args) => ({
          contents: `throw new Error(${JSON.stringify(`${args.path}: native bindings are not bundled`)});`,
          loader: 'js',
        }));
      },
    },
    {
      // DEV=true only: React devtools and ink's package.json, both through top-level await
      name: 'ink-without-devtools',
      setup(build) {
        build.onLoad({ filter: /[\\/]ink[\\/]build[\\/]reconciler\.js$/ }, (args) => {
          let source = readFileSync(args.path, 'utf8');
          for (const [from, to] of [["await import('./devtools.js');", 'void 0;'], ['await loadPackageJson()', '{ name: undefined, version: undefined }']]) {
            if (!source.includes(from)) throw new Error(`${args.path}: "${from}" not found; update scripts/package.mjs`);
            source = source.replace(from, to);
          }
          return { contents: source, loader: 'js' };
        });
      },
    },
    {
      // emscripten fetches its inlined wasm through a data: URL, which loads
      // undici (~20 ms of the first frame); handed the bytes, it skips fetch
      name: 'yoga-wasm-without-fetch',
      setup(build) {
        build.onLoad({ filter: /[\\/]yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/ }, (args) => {
          const source = readFileSync(args.path, 'utf8');
          const binary = /H="data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/.exec(source);
          const wasmBinary = 'var w;h.wasmBinary&&(w=h.wasmBinary);';
          if (!binary || !source.includes(wasmBinary)) throw new Error(`${args.path}: yoga's inlined wasm changed; update scripts/package.mjs`);
          const contents = source
            .replace(binary[0], 'H="data:application/octet-stream;base64,"')
            .replace(wasmBinary, `var w=Buffer.from(${JSON.stringify(binary[1])},'base64');`);
          return { contents, loader: 'js' };
        });
      },
    },
    {
      name: 'yoga-without-top-level-await',
      setup(build) {
        build.onLoad({ filter: /[\\/]yoga-layout[\\/]dist[\\/]src[\\/]index\.js$/ }, (args) => {
          const source = readFileSync(args.path, 'utf8');
          if (!source.includes('wrapAssembly(await loadYoga())')) throw new Error(`${args.path}: yoga-layout's entry changed; update scripts/package.mjs`);
          return {
            loader: 'js',
            resolveDir: dirname(args.path),
            contents: `
import loadYoga from '../binaries/yoga-wasm-base64-esm.js';
import wrapAssembly from './wrapAssembly.js';
let yoga;
export const etcdRunbookYogaReady = loadYoga().then((assembly) => { yoga = wrapAssembly(assembly); });
const notReady = () => { throw new Error('yoga-layout used before its WebAssembly was instantiated'); };
export default new Proxy({}, { get: (_, key) => (yoga ?? notReady())[key] });
export * from './generated/YGEnums.js';
`,
          };
        });
      },
    },
  ];
}

/**
 * The entry: the embedded runbooks inside the executable only (node:sea is
 * missing before Node 20.12: then it is not one), wait for yoga's wasm, then
 * run the CLI exactly as dist/src/cli/main.js does.
 */
function entryContents(main) {
  return `
import { etcdRunbookYogaReady } from 'yoga-layout';
let etcdRunbookIsSea = false;
try { etcdRunbookIsSea = require('node:sea').isSea(); } catch {}
if (etcdRunbookIsSea) globalThis.__ETCD_RUNBOOK_EMBEDDED_RUNBOOKS__ = ${JSON.stringify(embeddedRunbooks())};
etcdRunbookYogaReady.then(() => { require(${JSON.stringify(main)}); }, (err) => {
  process.stderr.write('etcd-runbook: cannot start the terminal UI engine: ' + (err && err.message) + '\\n');
  process.exit(4);
});
`;
}

/** esbuild options for a bundle of `main` (exported so tests can bundle a probe with the same plugins). */
export function bundleOptions({ main = join(ROOT, 'src', 'cli', 'main.ts'), outfile = BUNDLE } = {}) {
  return {
    stdin: { contents: entryContents(main), resolveDir: ROOT, sourcefile: 'etcd-runbook-entry.js', loader: 'js' },
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    tsconfig: join(ROOT, 'tsconfig.json'),
    jsx: 'automatic',
    nodePaths: [join(ROOT, 'node_modules')],
    minify: true,
    legalComments: 'external',
    define: { 'import.meta.url': '__etcdRunbookImportMetaUrl', 'import.meta.dirname': '__dirname', 'process.env.NODE_ENV': '"production"' },
    banner: { js: `const __etcdRunbookImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
    logLevel: 'warning',
    plugins: plugins(),
    metafile: true,
  };
}

/**
 * The lab kubelet (src/lab/lab-kubelet.ts), which kubeadm lab nodes run with
 * node: one ES module beside the bundle, yaml inside it, found there by
 * src/lab/node-kubeadm.ts (labKubeletProgram).
 */
export const KUBELET_BUNDLE = join(ROOT, 'dist', 'lab-kubelet.mjs');

async function buildKubeletBundle(esbuild) {
  await esbuild.build({
    entryPoints: [join(ROOT, 'src', 'lab', 'lab-kubelet.ts')],
    outfile: KUBELET_BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    tsconfig: join(ROOT, 'tsconfig.json'),
    nodePaths: [join(ROOT, 'node_modules')],
    minify: true,
    legalComments: 'none',
    // yaml's CommonJS build requires node builtins, which an ES module bundle has no require for
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

/**
 * The bundle (and its .LEGAL.txt), each written under a temporary name, then
 * renamed; for the real one (no options), the lab kubelet beside it and the bin.
 */
export async function buildBundle(options) {
  const esbuild = await import('esbuild');
  if (options === undefined) await buildKubeletBundle(esbuild);
  const result = await esbuild.build({ ...bundleOptions(options), write: false });
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const temp = `${file.path}.tmp`;
    writeFileSync(temp, file.contents, { mode: 0o644 });
    chmodSync(temp, 0o644);
    renameSync(temp, file.path);
  }
  if (options !== undefined) return result;
  // the bin last: it never runs against a bundle still being written
  copyFileSync(LAUNCHER, `${BIN}.tmp`);
  chmodSync(`${BIN}.tmp`, 0o755);
  renameSync(`${BIN}.tmp`, BIN);
  return result;
}

export async function buildExecutable() {
  mkdirSync(OUT_DIR, { recursive: true });
  const blob = join(OUT_DIR, 'sea-prep.blob');
  const config = join(OUT_DIR, 'sea-config.json');
  writeFileSync(config, `${JSON.stringify({ main: BUNDLE, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }, null, 2)}\n`);
  quiet(process.execPath, ['--experimental-sea-config', config]);
  const temp = `${EXECUTABLE}.tmp`;
  rmSync(temp, { force: true });
  copyFileSync(process.execPath, temp);
  chmodSync(temp, 0o755);
  // postject's ELF library prints harmless section-name warnings: shown only on failure
  quiet(process.execPath, [require.resolve('postject/dist/cli.js'), temp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  rmSync(blob);
  // rename last: a half-injected binary never sits under the real name
  execFileSync('mv', ['-f', temp, EXECUTABLE]);
}

function quiet(command, args) {
  try {
    execFileSync(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`${relative(ROOT, args[0] ?? command)} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

function newestMtime(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** true when `target` (the bundle; by default the executable, made from it) is older than any input (src, runbooks, lockfile, this script). */
export function isStale(target = EXECUTABLE) {
  if (!existsSync(target)) return true;
  const inputs = ['src', 'runbooks', 'package-lock.json', 'tsconfig.json', 'scripts/package.mjs', 'scripts/bin-launcher.cjs'].map((p) => join(ROOT, p));
  if (target !== BUNDLE) inputs.push(BUNDLE);
  return statSync(target).mtimeMs < Math.max(...inputs.filter(existsSync).map(newestMtime));
}

async function cli(argv) {
  const ifStale = argv.includes('--if-stale');
  const started = Date.now();
  if (ifStale && !isStale(BUNDLE) && existsSync(BIN)) process.stdout.write(`package: ${relative(process.cwd(), BUNDLE)} is up to date\n`);
  else {
    await buildBundle();
    process.stdout.write(`package: ${relative(process.cwd(), BUNDLE)} ${(statSync(BUNDLE).size / 1e6).toFixed(1)} MB (${Date.now() - started} ms)\n`);
  }
  if (argv.includes('--bundle-only')) return;
  if (ifStale && !isStale(EXECUTABLE)) {
    process.stdout.write(`package: ${relative(process.cwd(), EXECUTABLE)} is up to date\n`);
    return;
  }
  // the bundle is portable; the executable is this node binary
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    process.stderr.write(`package: the executable is built for linux-x64 from this node (${process.platform}-${process.arch}); run it there\n`);
  }
  const bundled = Date.now();
  await buildExecutable();
  process.stdout.write(`package: ${relative(process.cwd(), EXECUTABLE)} ${(statSync(EXECUTABLE).size / 1e6).toFixed(1)} MB, node ${process.version} linux-x64 (${Date.now() - bundled} ms)\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`package: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

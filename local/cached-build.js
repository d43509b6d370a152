// An esbuild build kept on disk and reused while none of its inputs changed. Checking is a stat
// per project input, where loading esbuild and building costs about 1.5 s for the CLI or the
// functions.
// Plain JavaScript, because the CLI's launcher uses it before anything TypeScript is built.
import { createHash, randomUUID } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/**
 * A build unused this long may go once a newer one exists. Each use touches its folder, and a
 * running `sluice up` starts new Lambda environments from its build for as long as it runs.
 */
const GRACE_MS = 24 * 3600_000;

/** Builds under way in this process, by manifest: two stacks started at once share one. */
const building = new Map();
/** esbuild's service process is stopped by the last build of this process to finish. */
let running = 0;

const sha256 = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/**
 * npm rewrites this on every install, so it can stand for the installed packages: a stat for
 * each of the 1,700 files that the CLI bundles from node_modules cost about 30 ms a start.
 */
const INSTALLED = join('node_modules', '.package-lock.json');

/** The files whose stamps name a build: its own inputs, and the install for those of packages. */
function stamped(root, inputs) {
  const own = inputs.filter((input) => !input.startsWith(`node_modules${sep}`));
  if (own.length === inputs.length || !existsSync(join(root, INSTALLED))) return inputs;
  return [...own, INSTALLED];
}

/** Names the build: the options, and each stamped file's size and modification time. */
function digest(root, optionsJson, files) {
  const stamps = files.map((file) => {
    const { size, mtimeMs } = statSync(join(root, file));
    return `${file}\0${size}\0${mtimeMs}\n`;
  });
  return sha256(optionsJson + stamps.join(''));
}

/** Marks a build as in use, so that no other process prunes it. */
export function touchBuild(outdir) {
  const now = new Date();
  utimesSync(outdir, now, now);
}

function cached(root, cache, manifest, optionsJson) {
  try {
    const { key, inputs } = JSON.parse(readFileSync(manifest, 'utf8'));
    const outdir = join(cache, key);
    if (key !== digest(root, optionsJson, inputs) || !existsSync(outdir)) return undefined;
    touchBuild(outdir);
    return outdir;
  } catch {
    return undefined; // no manifest yet, or an input was deleted: build again
  }
}

async function build(root, cache, manifest, options, optionsJson) {
  const esbuild = await import('esbuild');
  // Each build writes its own folder, so that two processes started at once never read each
  // other's half-written output; the first to finish names it.
  const scratch = join(cache, `build-${process.pid}-${randomUUID()}`);
  running++;
  let result;
  try {
    result = await esbuild.build({
      ...options,
      absWorkingDir: root,
      outdir: scratch,
      metafile: true,
      logLevel: 'error',
    });
  } finally {
    // The service process would otherwise stay for the life of `sluice up` (about 30 MB).
    if (--running === 0) await esbuild.stop();
  }
  const inputs = stamped(
    root,
    Object.keys(result.metafile.inputs)
      .map((input) => relative(root, resolve(root, input)))
      .sort(),
  );
  const key = digest(root, optionsJson, inputs);
  const outdir = join(cache, key);
  try {
    renameSync(scratch, outdir);
  } catch {
    rmSync(scratch, { recursive: true, force: true }); // another process got there first
    touchBuild(outdir);
  }
  writeFileSync(`${manifest}.${process.pid}`, JSON.stringify({ key, inputs }));
  renameSync(`${manifest}.${process.pid}`, manifest);
  for (const name of readdirSync(cache)) {
    const path = join(cache, name);
    if (name !== key && !name.endsWith('.json') && statSync(path).mtimeMs < Date.now() - GRACE_MS) {
      rmSync(path, { recursive: true, force: true });
    }
  }
  return outdir;
}

/**
 * The output folder of `options` built by esbuild, from `cache` when its inputs are unchanged.
 * `options` must not set `outdir`; paths in it are relative to `root`. Each set of options has
 * a manifest of its own in `cache`, so that builds of different entry points never evict each
 * other.
 */
export async function cachedBuild(root, cache, options) {
  const optionsJson = JSON.stringify(options);
  const manifest = join(cache, `manifest-${sha256(optionsJson)}.json`);
  const hit = cached(root, cache, manifest, optionsJson);
  if (hit) return hit;
  let pending = building.get(manifest);
  if (!pending) {
    pending = build(root, cache, manifest, options, optionsJson).finally(() =>
      building.delete(manifest),
    );
    building.set(manifest, pending);
  }
  return pending;
}

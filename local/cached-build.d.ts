import type { BuildOptions } from 'esbuild';

/**
 * The output folder of `options` built by esbuild, from `cache` when its inputs are unchanged.
 * `options` must not set `outdir`; paths in it are relative to `root`. Each set of options has
 * a manifest of its own in `cache`, so that builds of different entry points never evict each
 * other.
 */
export function cachedBuild(root: string, cache: string, options: BuildOptions): Promise<string>;

/** Marks a build as in use, so that no other process prunes it. */
export function touchBuild(outdir: string): void;

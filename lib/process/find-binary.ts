import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface FindBinaryOptions {
  /** Directories searched after PATH (e.g. Debian's /usr/lib/postgresql/15/bin). */
  extraDirs?: readonly string[];
  /** How to install the binary; ends up in the error message. */
  installHint: string;
  /** PATH to search; defaults to process.env.PATH. */
  searchPath?: string;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Absolute path of an executable found on PATH or in `extraDirs`. Throws a
 * message naming what was searched and how to install it: a test that needs a
 * server must fail loudly when the server is missing, never skip.
 */
export function findBinary(name: string, options: FindBinaryOptions): string {
  const pathDirs = (options.searchPath ?? process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const dirs = [...pathDirs, ...(options.extraDirs ?? [])];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(
    `${name} not found (searched PATH and ${options.extraDirs?.join(', ') || 'no extra directories'}). ` +
      `${options.installHint}`,
  );
}

/** Subdirectories of `parent` (e.g. PostgreSQL major versions), highest version first; [] if absent. */
export function versionDirs(parent: string): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+(\.\d+)*$/.test(n))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    .map((n) => join(parent, n));
}

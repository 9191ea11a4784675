import { closeSync, fsyncSync, linkSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { EvdbError } from '../core/errors.js';

/** File steps shared by the backends' backups: a backup or restored store appears whole. */

export function fileExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function assertAbsent(path: string): void {
  if (fileExists(path)) {
    throw new EvdbError('already_exists', `${path} already exists`, { details: { path } });
  }
}

export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Gives the fsynced file `from` the name `to`, durably, unless `to` exists: a link cannot
 * overwrite, so two racing backups or restores never replace each other's file.
 */
export function publishFile(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new EvdbError('already_exists', `${to} already exists`, { details: { path: to } });
    }
    throw error;
  }
  rmSync(from, { force: true });
  const dir = openSync(dirname(to), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

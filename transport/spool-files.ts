import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * The part of an open file the spool's segment log uses. node:fs's FileHandle
 * is one; a test can hand the spool its own to make a commit's write hang or
 * fail and show that no device is acknowledged before its message is on disk.
 */
export interface SpoolFile {
  /** On a file opened 'w+dsync', returns once the bytes are as durable as fdatasync(2) leaves them: what a PUBACK waits for. */
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/**
 * How the spool's segment log opens its files: 'r' to read a segment, 'r+' to
 * cut a damaged end off one at start, and 'w+dsync' to create the segment that
 * takes appends (emptying a file of that name) with O_DSYNC, so each write
 * returns durable. A group commit is then one call to libuv's thread pool; a
 * write followed by an fdatasync took two, and on a busy event loop each
 * waited its turn before the next could start (transport/README.md, "Group
 * commit").
 */
export type SpoolOpenFlags = 'r' | 'r+' | 'w+dsync';

export interface SpoolFiles {
  open(path: string, flags: SpoolOpenFlags): Promise<SpoolFile>;
}

const CREATE_DSYNC = constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC;

export const nodeSpoolFiles: SpoolFiles = {
  open: (path, flags) => open(path, flags === 'w+dsync' ? CREATE_DSYNC : flags),
};

import { open } from 'node:fs/promises';

/**
 * The part of an open file the spool's segment log uses. node:fs's FileHandle
 * is one; a test can hand the spool its own to make `datasync` hang or fail
 * and show that no device is acknowledged before its message is on disk.
 */
export interface SpoolFile {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** fdatasync(2): what makes an append durable, so what a PUBACK waits for. */
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/** How the spool's segment log opens its files. */
export interface SpoolFiles {
  open(path: string, flags: 'r' | 'r+' | 'w+'): Promise<SpoolFile>;
}

export const nodeSpoolFiles: SpoolFiles = { open: (path, flags) => open(path, flags) };

import { SkjoldError } from '../lib/errors.ts';
import type { SpoolFiles } from './spool-files.ts';
import { KIND_LEGACY_JSON, knownKind, readFrame } from './spool-frame.ts';

export const READ_CHUNK_BYTES = 1024 * 1024;

export interface SegmentScan {
  /** Bytes at the start of the file that hold whole, valid frames. */
  size: number;
  fileSize: number;
  /** Records from the checkpoint on. */
  records: number;
  /** Of those, records of the JSON format written before line protocol (replayed on upgrade). */
  legacyRecords: number;
}

/**
 * Reads a segment through at start: where its valid frames end (a torn tail
 * or damage ends them) and how many records from `checkpoint` on are still to
 * be written. A record of a kind this version does not know (a spool written
 * by a newer Skjold) stops the start with SKJOLD_ERR_SPOOL_FORMAT rather than
 * being cut off as damage: it was acknowledged to a device.
 */
export async function scanSegment(
  files: SpoolFiles,
  file: string,
  base: number,
  checkpoint: number,
): Promise<SegmentScan> {
  const handle = await files.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    let at = 0;
    let records = 0;
    let legacyRecords = 0;
    let chunkBytes = READ_CHUNK_BYTES;
    const result = (size: number): SegmentScan => ({ size, fileSize, records, legacyRecords });
    while (at < fileSize) {
      const length = Math.min(chunkBytes, fileSize - at);
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buf, 0, length, at);
      let pos = 0;
      for (;;) {
        const frame = readFrame(buf.subarray(0, bytesRead), pos);
        if (frame.kind === 'corrupt') return result(at + pos);
        if (frame.kind === 'partial') break;
        if (base + at + pos >= checkpoint) {
          if (!knownKind(frame.payload)) {
            throw new SkjoldError(
              'SKJOLD_ERR_SPOOL_FORMAT',
              `${file} at byte ${at + pos} holds a record of kind 0x${(frame.payload[0] ?? 0).toString(16)}, ` +
                'which this version of Skjold cannot read (written by a newer one?); start that version to drain it',
            );
          }
          records++;
          if (frame.payload[0] === KIND_LEGACY_JSON) legacyRecords++;
        }
        pos += frame.bytes;
      }
      if (pos === 0) {
        if (length === fileSize - at) return result(at); // torn tail
        chunkBytes *= 2;
      }
      at += pos;
    }
    return result(at);
  } finally {
    await handle.close();
  }
}

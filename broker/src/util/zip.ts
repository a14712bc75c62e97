/**
 * A ZIP archive in memory, deflated, for downloads made of a few files (a trace's log from
 * every node, as EMQX serves it). Only what that needs: no ZIP64, so the archive stays under
 * 4 GiB (trace files are bounded far below that); names are UTF-8 (general purpose flag bit 11).
 * Format: PKWARE APPNOTE 6.3, sections 4.3.7 (local header), 4.3.12 (central directory) and
 * 4.3.16 (end of central directory).
 */
import { crc32, deflateRaw } from 'node:zlib';
import { promisify } from 'node:util';

const deflate = promisify(deflateRaw);

export interface ZipEntry { name: string; data: Buffer; mtime?: Date }

function dosTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

export async function zip(entries: readonly ZipEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const packed = await deflate(e.data);
    const crc = crc32(e.data);
    const { time, date } = dosTime(e.mtime ?? new Date());
    const fields = { time, date, crc, packed: packed.length, size: e.data.length, name: name.length };
    const local = Buffer.alloc(30); // extra field length: 0
    local.writeUInt32LE(0x04034b50, 0);
    writeEntryFields(local, 4, fields);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4); // version made by
    writeEntryFields(dir, 6, fields);
    dir.writeUInt32LE(offset, 42); // extra, comment, disk, attributes: 0
    parts.push(local, name, packed);
    central.push(dir, name);
    offset += local.length + name.length + packed.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}

/** The fields a local file header and its central directory entry share, in the same order, from `at`. */
function writeEntryFields(b: Buffer, at: number, f: { time: number; date: number; crc: number; packed: number; size: number; name: number }): void {
  b.writeUInt16LE(20, at); // version needed: 2.0 (deflate)
  b.writeUInt16LE(0x0800, at + 2); // UTF-8 name
  b.writeUInt16LE(8, at + 4); // deflate
  b.writeUInt16LE(f.time, at + 6);
  b.writeUInt16LE(f.date, at + 8);
  b.writeUInt32LE(f.crc, at + 10);
  b.writeUInt32LE(f.packed, at + 14);
  b.writeUInt32LE(f.size, at + 18);
  b.writeUInt16LE(f.name, at + 22);
}

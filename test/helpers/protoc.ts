import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const PROTO_DIR = join(__dirname, '..', '..', 'native', 'proto');

/** Splits a varint-length-delimited stream into its messages. */
export function splitDelimited(body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < body.length) {
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = body[i++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    out.push(body.subarray(i, i + len));
    i += len;
  }
  return out;
}

/**
 * Each `MetricFamily` of a protobuf exposition in protobuf text format, decoded by Debian's
 * `protoc` (package protobuf-compiler) with the vendored metrics.proto: an independent decoder.
 */
export function decodeFamilies(body: Uint8Array): string[] {
  return splitDelimited(body).map((m) => {
    try {
      return execFileSync(
        'protoc',
        ['--decode=io.prometheus.client.MetricFamily', `-I${PROTO_DIR}`, join(PROTO_DIR, 'metrics.proto')],
        { input: m, encoding: 'utf8' },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error('protoc is not on PATH; install it with: apt-get install -y protobuf-compiler');
      }
      throw err;
    }
  });
}

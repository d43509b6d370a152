/**
 * Just enough ICC parsing to spot an embedded sRGB profile. Converting sRGB to sRGB changes
 * nothing visible, yet through lcms it costs more than decoding a 12 MP JPEG at half size, and
 * phones and editors embed sRGB profiles in a large share of photos.
 */

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, Math.min(end, bytes.length)));
}

function uint32(bytes: Uint8Array, at: number): number {
  if (at + 4 > bytes.length) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
}

/** The profile's description (`desc` tag, ICC v2 text or v4 multi-localised), if readable. */
export function iccDescription(icc: Uint8Array): string | undefined {
  const tagCount = uint32(icc, 128);
  for (let index = 0; index < tagCount && 132 + index * 12 + 12 <= icc.length; index++) {
    const entry = 132 + index * 12;
    if (ascii(icc, entry, entry + 4) !== 'desc') continue;
    const start = uint32(icc, entry + 4);
    const type = ascii(icc, start, start + 4);
    if (type === 'desc') {
      const length = uint32(icc, start + 8);
      return ascii(icc, start + 12, start + 12 + length).replace(/\0+$/, '');
    }
    if (type === 'mluc' && uint32(icc, start + 8) > 0) {
      const length = uint32(icc, start + 20);
      const offset = start + uint32(icc, start + 24);
      const end = Math.min(offset + length, icc.length);
      const text = Buffer.from(icc.subarray(offset, offset + ((end - offset) & ~1)));
      // UTF-16BE: swap to the little-endian order Node decodes.
      return text.swap16().toString('utf16le').replace(/\0+$/, '');
    }
    return undefined;
  }
  return undefined;
}

/** Whether an embedded ICC profile is an RGB profile describing itself as sRGB. */
export function isSrgbProfile(icc: Uint8Array | undefined): boolean {
  if (icc === undefined || icc.length < 132 || ascii(icc, 16, 20) !== 'RGB ') return false;
  return /\bsRGB\b/i.test(iccDescription(icc) ?? '');
}

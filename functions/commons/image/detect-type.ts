/**
 * Magic-byte sniffing. The extension of an upload is whatever the client chose, so the engine
 * decides how to treat a file from its first bytes and only records what the name claimed.
 */

/** Bytes of the file's head that {@link detectImageType} needs at most. */
export const TYPE_SNIFF_BYTES = 64;

const SIGNATURES: readonly {
  readonly type: string;
  readonly offset: number;
  readonly bytes: string;
}[] = [
  { type: 'jpeg', offset: 0, bytes: 'ffd8ff' },
  { type: 'png', offset: 0, bytes: '89504e470d0a1a0a' },
  { type: 'gif', offset: 0, bytes: '474946383761' },
  { type: 'gif', offset: 0, bytes: '474946383961' },
  { type: 'tiff', offset: 0, bytes: '49492a00' },
  { type: 'tiff', offset: 0, bytes: '4d4d002a' },
  { type: 'tiff', offset: 0, bytes: '49492b00' },
  { type: 'tiff', offset: 0, bytes: '4d4d002b' },
  { type: 'bmp', offset: 0, bytes: '424d' },
  { type: 'jxl', offset: 0, bytes: 'ff0a' },
  { type: 'jxl', offset: 0, bytes: '0000000c4a584c200d0a870a' },
  { type: 'jp2', offset: 0, bytes: '0000000c6a5020200d0a870a' },
  { type: 'ico', offset: 0, bytes: '00000100' },
  { type: 'psd', offset: 0, bytes: '38425053' },
  { type: 'pdf', offset: 0, bytes: '255044462d' },
];

const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

function startsWith(head: Uint8Array, offset: number, hex: string): boolean {
  if (head.length < offset + hex.length / 2) return false;
  for (let i = 0; i < hex.length / 2; i++) {
    if (head[offset + i] !== Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)) return false;
  }
  return true;
}

function ascii(head: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...head.subarray(start, end));
}

/** ISO base media files (AVIF, HEIC) share one container; the `ftyp` brands tell them apart. */
function detectIsoMedia(head: Uint8Array): string | undefined {
  if (head.length < 12 || ascii(head, 4, 8) !== 'ftyp') return undefined;
  const boxSize =
    ((head[0] ?? 0) << 24) | ((head[1] ?? 0) << 16) | ((head[2] ?? 0) << 8) | (head[3] ?? 0);
  const brands = [ascii(head, 8, 12)];
  // Generic brands such as `mif1` say only "HEIF"; the compatible brands name the codec.
  for (let at = 16; at + 4 <= Math.min(boxSize, head.length); at += 4)
    brands.push(ascii(head, at, at + 4));
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return 'avif';
  if (brands.some((brand) => HEIC_BRANDS.has(brand))) return 'heic';
  return undefined;
}

function detectSvg(head: Uint8Array): boolean {
  // Byte by byte, a UTF-8 byte-order mark reads as these three characters.
  const text = ascii(head, 0, head.length).replace(/^(\xEF\xBB\xBF)?\s*/, '');
  return text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'));
}

/**
 * Identifies an image from the first {@link TYPE_SNIFF_BYTES} bytes of a file.
 *
 * @returns `jpeg`, `png`, `gif`, `webp`, `tiff`, `avif`, `heic`, `bmp`, `jxl`, `jp2`, `ico`,
 *   `psd`, `pdf` or `svg`, or `undefined` when the bytes match no known image signature.
 */
export function detectImageType(head: Uint8Array): string | undefined {
  if (startsWith(head, 0, '52494646') && startsWith(head, 8, '57454250')) return 'webp';
  for (const signature of SIGNATURES) {
    if (startsWith(head, signature.offset, signature.bytes)) return signature.type;
  }
  return detectIsoMedia(head) ?? (detectSvg(head) ? 'svg' : undefined);
}

const EXTENSIONS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  jpeg: ['jpg', 'jpeg', 'jpe', 'jfif'],
  png: ['png'],
  gif: ['gif'],
  webp: ['webp'],
  tiff: ['tif', 'tiff'],
  avif: ['avif'],
  heic: ['heic', 'heif', 'hif'],
  bmp: ['bmp', 'dib'],
  jxl: ['jxl'],
  jp2: ['jp2', 'j2k', 'jpf', 'jpx'],
  ico: ['ico'],
  psd: ['psd'],
  pdf: ['pdf'],
  svg: ['svg'],
};

/**
 * Whether a file name's extension disagrees with the type found in its bytes. An absent extension
 * is no mismatch: there is no claim to contradict.
 */
export function isExtensionMismatch(
  detectedType: string,
  declaredExtension: string | undefined,
): boolean {
  const extension = declaredExtension?.replace(/^\./, '').toLowerCase();
  if (!extension) return false;
  return !(EXTENSIONS_BY_TYPE[detectedType] ?? []).includes(extension);
}

import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { detectImageType, isExtensionMismatch } from '#commons/image/index.ts';

function hex(bytes: string): Uint8Array {
  return Buffer.from(bytes.replace(/\s/g, ''), 'hex');
}

describe('detectImageType', () => {
  it.each([
    ['jpeg', (image: Sharp) => image.jpeg()],
    ['png', (image: Sharp) => image.png()],
    ['webp', (image: Sharp) => image.webp()],
    ['gif', (image: Sharp) => image.gif()],
    ['tiff', (image: Sharp) => image.tiff()],
    ['avif', (image: Sharp) => image.avif()],
  ] as const)('recognises a real %s file', async (type, encode) => {
    // Prepare
    const file = await encode(
      sharp({ create: { width: 4, height: 4, channels: 3, background: '#ff0000' } }),
    ).toBuffer();

    // Act
    const detected = detectImageType(file.subarray(0, 64));

    // Assess
    expect(detected).toBe(type);
  });

  it.each([
    ['heic', '00000018 66747970 68656963 00000000 6d696631 68656963'],
    ['avif', '0000001c 66747970 6d696631 00000000 6d696631 61766966 6d696166'],
    ['bmp', '424d 3a00 0000'],
    ['pdf', '2550 4446 2d31 2e37'],
    ['jxl', 'ff0a fa7f'],
    ['svg', Buffer.from('\ufeff  <svg xmlns="http://www.w3.org/2000/svg">').toString('hex')],
  ])('recognises %s from its signature', (type, bytes) => {
    // Prepare
    const head = hex(bytes);

    // Act
    const detected = detectImageType(head);

    // Assess
    expect(detected).toBe(type);
  });

  it.each([
    ['text', Buffer.from('id,name\n1,ada\n')],
    ['nothing', Buffer.alloc(0)],
    ['a lone JPEG marker', hex('ffd8')],
  ])('returns undefined for %s', (_label, head) => {
    // Prepare
    const bytes = new Uint8Array(head);

    // Act
    const detected = detectImageType(bytes);

    // Assess
    expect(detected).toBeUndefined();
  });
});

describe('isExtensionMismatch', () => {
  it.each([
    ['jpeg', 'jpg', false],
    ['jpeg', '.JPEG', false],
    ['png', 'jpg', true],
    ['heic', 'heif', false],
    ['tiff', 'png', true],
    ['png', undefined, false],
    ['png', '', false],
  ] as const)('type %s with extension %s → %s', (type, extension, expected) => {
    // Prepare
    const declared = extension;

    // Act
    const mismatch = isExtensionMismatch(type, declared);

    // Assess
    expect(mismatch).toBe(expected);
  });
});

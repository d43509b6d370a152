import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InputError } from '#commons/errors.ts';
import {
  CorruptImage,
  ImageError,
  ImageTimeout,
  ImageTooLarge,
  resizeImage,
  UnsupportedImageFormat,
  type VariantSpec,
} from '#commons/image/index.ts';
import { encodePng } from '../fixtures/image/png.ts';

const THUMB: readonly VariantSpec[] = [{ name: 'thumb', size: 32, format: 'jpeg' }];

function rgbPng(width: number, height: number, idat?: Buffer): Buffer {
  return encodePng({
    width,
    height,
    colourType: 2,
    bitDepth: 8,
    sample: (x, y, channel) => (x * 31 + y * 17 + channel * 90) % 256,
    ...(idat ? { idat } : {}),
  });
}

describe('resizeImage on hostile input', () => {
  it('rejects a zero-byte file as CorruptImage', async () => {
    // Prepare
    const empty = Buffer.alloc(0);

    // Act
    const attempt = resizeImage(empty, THUMB);

    // Assess
    await expect(attempt).rejects.toThrow(CorruptImage);
    await expect(attempt).rejects.toThrow(/empty/);
  });

  it('rejects a truncated JPEG as CorruptImage', async () => {
    // Prepare
    const jpeg = await sharp({
      create: {
        width: 96,
        height: 64,
        channels: 3,
        background: '#000000',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg()
      .toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));

    // Act
    const attempt = resizeImage(truncated, THUMB);

    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'CorruptImage' });
    await expect(attempt).rejects.toBeInstanceOf(InputError);
  });

  it('rejects a PNG whose pixel data is garbage as CorruptImage', async () => {
    // Prepare
    const corrupt = rgbPng(16, 16, Buffer.from('definitely not zlib data'));

    // Act
    const attempt = resizeImage(corrupt, THUMB);

    // Assess
    await expect(attempt).rejects.toThrow(CorruptImage);
    await expect(attempt).rejects.toThrow(/could not be decoded/);
  });

  it('rejects a TIFF cut off inside its header as CorruptImage, not as unsupported', async () => {
    // Prepare
    const tiff = await sharp({
      create: { width: 20, height: 20, channels: 3, background: '#ff0000' },
    })
      .tiff()
      .toBuffer();

    // Act
    const attempt = resizeImage(tiff.subarray(0, 12), THUMB);

    // Assess
    await expect(attempt).rejects.toThrow(CorruptImage);
  });

  it('rejects a decompression bomb from its header, before decoding', async () => {
    // Prepare: 100 000 × 100 000 declared, a few bytes of data. The IDAT is garbage too, so
    // an engine that decoded before checking would report CorruptImage instead.
    const bomb = rgbPng(100_000, 100_000, Buffer.from('garbage'));

    // Act
    const attempt = resizeImage(bomb, THUMB);

    // Assess
    expect(bomb.length).toBeLessThan(100);
    await expect(attempt).rejects.toThrow(ImageTooLarge);
    await expect(attempt).rejects.toThrow(/100000×100000/);
  });

  it('applies a configured pixel limit', async () => {
    // Prepare
    const png = rgbPng(100, 100);

    // Act
    const attempt = resizeImage(png, THUMB, { maxPixels: 5_000 });

    // Assess
    await expect(attempt).rejects.toThrow(ImageTooLarge);
  });

  it('rejects a file over the byte limit without looking at it', async () => {
    // Prepare
    const png = rgbPng(64, 64);

    // Act
    const attempt = resizeImage(png, THUMB, { maxBytes: 100 });

    // Assess
    await expect(attempt).rejects.toThrow(ImageTooLarge);
    await expect(attempt).rejects.toThrow(/over the 100 B limit/);
  });

  it('rejects bytes that are no image as UnsupportedImageFormat', async () => {
    // Prepare
    const text = Buffer.from('name,age\nada,36\n');

    // Act
    const attempt = resizeImage(text, THUMB);

    // Assess
    await expect(attempt).rejects.toThrow(UnsupportedImageFormat);
    await expect(attempt).rejects.toThrow(/not an image/);
  });

  it('rejects HEIC, which the prebuilt decoder cannot read, as UnsupportedImageFormat', async () => {
    // Prepare: an ISO-BMFF header with the `heic` brand is enough to be recognised.
    const heic = Buffer.concat([
      Buffer.from('0000001866747970686569630000000068656963', 'hex'),
      Buffer.alloc(64),
    ]);

    // Act
    const attempt = resizeImage(heic, THUMB);

    // Assess
    await expect(attempt).rejects.toThrow(UnsupportedImageFormat);
    await expect(attempt).rejects.toThrow(/HEIC images are not supported/);
  });

  it('gives up with ImageTimeout when the work outlasts the guard', async () => {
    // Prepare
    const png = await sharp({
      create: {
        width: 1200,
        height: 1200,
        channels: 3,
        background: '#000000',
        noise: { type: 'gaussian', mean: 128, sigma: 50 },
      },
    })
      .png({ compressionLevel: 1 })
      .toBuffer();

    // Act
    const attempt = resizeImage(png, [{ name: 'big', size: 1200, format: 'avif' }], {
      timeoutMs: 1,
    });

    // Assess
    await expect(attempt).rejects.toThrow(ImageTimeout);
    await expect(attempt).rejects.toBeInstanceOf(ImageError);
  });

  it('detects a PNG uploaded as .jpg and still processes it', async () => {
    // Prepare
    const png = rgbPng(40, 20);

    // Act
    const mislabelled = await resizeImage(png, THUMB, { declaredExtension: 'jpg' });
    const labelled = await resizeImage(png, THUMB, { declaredExtension: '.PNG' });

    // Assess
    expect(mislabelled.source).toMatchObject({
      detectedType: 'png',
      format: 'png',
      extensionMismatch: true,
    });
    expect(labelled.source.extensionMismatch).toBe(false);
    expect(mislabelled.variants[0]).toMatchObject({ format: 'jpeg', width: 32, height: 16 });
  });
});

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_CONFIG, resizeImage, type VariantSpec } from '#commons/image/index.ts';

/** A 300 × 200 landscape with detail, as a JPEG. */
async function landscapeJpeg(): Promise<Buffer> {
  return sharp({
    create: {
      width: 300,
      height: 200,
      channels: 3,
      background: '#000000',
      noise: { type: 'gaussian', mean: 120, sigma: 30 },
    },
  })
    .jpeg()
    .toBuffer();
}

describe('resizeImage', () => {
  it('makes the default variants from one upload, never upscaling', async () => {
    // Prepare
    const jpeg = await landscapeJpeg();

    // Act
    const result = await resizeImage(jpeg, DEFAULT_IMAGE_CONFIG.variants);

    // Assess
    expect(result.source).toEqual({
      width: 300,
      height: 200,
      format: 'jpeg',
      orientation: null,
      detectedType: 'jpeg',
      extensionMismatch: false,
    });
    const summary = result.variants.map(({ name, format, extension, width, height }) => ({
      name,
      format,
      extension,
      width,
      height,
    }));
    expect(summary).toEqual([
      { name: 'large', format: 'jpeg', extension: 'jpg', width: 300, height: 200 },
      { name: 'medium', format: 'jpeg', extension: 'jpg', width: 300, height: 200 },
      { name: 'small', format: 'jpeg', extension: 'jpg', width: 200, height: 133 },
    ]);
    for (const variant of result.variants) {
      expect(variant.bytes).toBe(variant.data.length);
      expect(await sharp(variant.data).metadata()).toMatchObject({
        format: 'jpeg',
        width: variant.width,
        height: variant.height,
      });
    }
  });

  it.each([
    ['jpeg', 'jpg', 'jpeg'],
    ['webp', 'webp', 'webp'],
    ['avif', 'avif', 'heif'],
    ['png', 'png', 'png'],
  ] as const)('encodes %s with the .%s extension', async (format, extension, decoder) => {
    // Prepare
    const jpeg = await landscapeJpeg();

    // Act
    const result = await resizeImage(jpeg, [{ name: 'medium', size: 120, format, quality: 60 }]);

    // Assess
    expect(result.variants[0]).toMatchObject({ format, extension, width: 120, height: 80 });
    expect(await sharp(result.variants[0]?.data).metadata()).toMatchObject({
      format: decoder,
      width: 120,
      height: 80,
    });
  });

  it('fits inside: the long edge of a portrait source becomes the size', async () => {
    // Prepare
    const portrait = await sharp(await landscapeJpeg())
      .rotate(90)
      .jpeg()
      .toBuffer();

    // Act
    const result = await resizeImage(portrait, [
      { name: 'v', size: 150, format: 'jpeg', fit: 'inside' },
    ]);

    // Assess
    expect(result.variants[0]).toMatchObject({ width: 100, height: 150 });
  });

  it('fits cover: a square cropped from the source', async () => {
    // Prepare
    const jpeg = await landscapeJpeg();

    // Act
    const result = await resizeImage(jpeg, [
      { name: 'thumb', size: 64, format: 'webp', fit: 'cover' },
      { name: 'capped', size: 500, format: 'webp', fit: 'cover' },
    ]);

    // Assess
    const [thumb, capped] = result.variants;
    expect(thumb).toMatchObject({ width: 64, height: 64 });
    expect(capped).toMatchObject({ width: 200, height: 200 });
    expect(await sharp(thumb?.data).metadata()).toMatchObject({
      format: 'webp',
      width: 64,
      height: 64,
    });
  });

  it('fits contain: letterboxed into a transparent square, or white for JPEG', async () => {
    // Prepare
    const jpeg = await landscapeJpeg();

    // Act
    const result = await resizeImage(jpeg, [
      { name: 'boxed', size: 60, format: 'png', fit: 'contain' },
      { name: 'boxed', size: 60, format: 'jpeg', fit: 'contain' },
    ]);

    // Assess
    const [png, jpg] = result.variants;
    expect(png).toMatchObject({ width: 60, height: 60 });
    expect(jpg).toMatchObject({ width: 60, height: 60 });
    const pngPixels = await sharp(png?.data).raw().toBuffer({ resolveWithObject: true });
    expect(pngPixels.info.channels).toBe(4);
    expect(pngPixels.data[3]).toBe(0);
    const jpgPixels = await sharp(jpg?.data).raw().toBuffer();
    expect([...jpgPixels.subarray(0, 3)].every((value) => value > 245)).toBe(true);
  });

  it('flattens transparency onto white for JPEG and keeps it for WebP', async () => {
    // Prepare
    const transparent = await sharp({
      create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();

    // Act
    const result = await resizeImage(transparent, [
      { name: 'v', size: 20, format: 'jpeg' },
      { name: 'v', size: 20, format: 'webp' },
    ]);

    // Assess
    const [jpg, webp] = result.variants;
    const jpgPixels = await sharp(jpg?.data).raw().toBuffer();
    expect([...jpgPixels.subarray(0, 3)].every((value) => value > 245)).toBe(true);
    expect(await sharp(webp?.data).metadata()).toMatchObject({ format: 'webp', hasAlpha: true });
  });

  it('sizes a variant the same whichever group produced it', async () => {
    // Prepare: 1/3 scales round differently when cascaded from an intermediate size.
    const odd = await sharp({
      create: { width: 301, height: 199, channels: 3, background: '#808080' },
    })
      .jpeg()
      .toBuffer();
    const medium: VariantSpec = { name: 'medium', size: 100, format: 'jpeg' };

    // Act
    const alone = await resizeImage(odd, [medium]);
    const withLarger = await resizeImage(odd, [
      { name: 'large', size: 250, format: 'jpeg' },
      medium,
    ]);

    // Assess
    expect(withLarger.variants[1]).toMatchObject({
      width: alone.variants[0]?.width,
      height: alone.variants[0]?.height,
    });
  });

  it('strips metadata and converts to sRGB by default', async () => {
    // Prepare
    const tagged = await sharp({
      create: { width: 64, height: 48, channels: 3, background: '#c03020' },
    })
      .withExif({ IFD0: { Copyright: 'sluice test' } })
      .withIccProfile('p3')
      .jpeg()
      .toBuffer();
    expect(await sharp(tagged).metadata()).toMatchObject({
      exif: expect.any(Buffer),
      icc: expect.any(Buffer),
    });

    // Act
    const result = await resizeImage(tagged, [{ name: 'v', size: 32, format: 'png' }]);

    // Assess
    const output = result.variants[0]?.data;
    const metadata = await sharp(output).metadata();
    expect(metadata.exif).toBeUndefined();
    expect(metadata.icc).toBeUndefined();
    const pixel = await sharp(output).raw().toBuffer();
    // #c03020 went into the P3 file as different numbers; back in sRGB it is #c03020 again.
    expect(Math.abs((pixel[0] ?? 0) - 0xc0)).toBeLessThan(6);
    expect(Math.abs((pixel[1] ?? 0) - 0x30)).toBeLessThan(6);
  });

  it('keeps EXIF and the ICC profile when asked, with orientation reset to upright', async () => {
    // Prepare
    const tagged = await sharp({
      create: { width: 64, height: 48, channels: 3, background: '#c03020' },
    })
      .withExif({ IFD0: { Copyright: 'sluice test' } })
      .withIccProfile('p3')
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const sourceIcc = (await sharp(tagged).metadata()).icc;

    // Act
    const result = await resizeImage(
      tagged,
      [
        { name: 'v', size: 32, format: 'jpeg' },
        { name: 'v', size: 32, format: 'webp' },
      ],
      { keepMetadata: true },
    );

    // Assess
    for (const variant of result.variants) {
      const metadata = await sharp(variant.data).metadata();
      expect(metadata.exif?.toString('latin1')).toContain('sluice test');
      expect(metadata.icc).toEqual(sourceIcc);
      // Turned upright once, so a viewer obeying a kept tag of 6 would turn it a second time.
      expect(metadata).toMatchObject({ width: 24, height: 32, orientation: 1 });
    }
  });
});

import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { resizeImage, type VariantSpec } from '#commons/image/index.ts';

const VARIANTS: readonly VariantSpec[] = [
  { name: 'v', size: 30, format: 'jpeg' },
  { name: 'v', size: 30, format: 'png' },
];

function solid(colour: string): Sharp {
  return sharp({ create: { width: 60, height: 40, channels: 3, background: colour } });
}

async function firstPixel(png: Buffer | undefined): Promise<number[]> {
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return [...data.subarray(0, 3)];
}

function close(actual: number[], expected: number[], tolerance: number): boolean {
  return actual.every((value, index) => Math.abs(value - (expected[index] ?? 0)) <= tolerance);
}

describe('resizeImage reads each supported source format', () => {
  it.each([
    ['WebP', () => solid('#3060c0').webp({ quality: 95 }), 'webp'],
    ['TIFF', () => solid('#3060c0').tiff(), 'tiff'],
    ['AVIF', () => solid('#3060c0').avif({ quality: 90 }), 'heif'],
    ['GIF', () => solid('#3060c0').gif(), 'gif'],
  ] as const)('reads %s', async (_label, make, decoder) => {
    // Prepare
    const input = await make().toBuffer();

    // Act
    const result = await resizeImage(input, VARIANTS);

    // Assess
    expect(result.source).toMatchObject({ width: 60, height: 40, format: decoder });
    expect(result.variants.map(({ format, width, height }) => [format, width, height])).toEqual([
      ['jpeg', 30, 20],
      ['png', 30, 20],
    ]);
    expect(close(await firstPixel(result.variants[1]?.data), [0x30, 0x60, 0xc0], 12)).toBe(true);
  });

  it('converts a CMYK JPEG to RGB', async () => {
    // Prepare
    const cmyk = await solid('#c03020').toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');

    // Act
    const result = await resizeImage(cmyk, VARIANTS);

    // Assess
    const png = result.variants[1]?.data;
    expect(await sharp(png).metadata()).toMatchObject({ space: 'srgb', channels: 3, width: 30 });
    const [red, green, blue] = await firstPixel(png);
    expect((red ?? 0) > 150 && (green ?? 255) < 100 && (blue ?? 255) < 100).toBe(true);
  });

  it('reads a greyscale JPEG', async () => {
    // Prepare
    const grey = await solid('#808080').toColourspace('b-w').jpeg().toBuffer();

    // Act
    const result = await resizeImage(grey, VARIANTS);

    // Assess
    expect(result.variants[0]).toMatchObject({ format: 'jpeg', width: 30, height: 20 });
    expect(close(await firstPixel(result.variants[1]?.data), [128, 128, 128], 4)).toBe(true);
  });

  async function animation(format: 'gif' | 'webp', width = 60, height = 40): Promise<Buffer> {
    const frames = await Promise.all(
      ['#ff0000', '#0000ff', '#00ff00'].map((colour) =>
        sharp({ create: { width, height, channels: 3, background: colour } })
          .png()
          .toBuffer(),
      ),
    );
    return sharp(frames, { join: { animated: true } })
      .toFormat(format, { delay: [100, 200, 300], loop: 2 })
      .toBuffer();
  }

  it.each([
    ['GIF', 'gif'],
    ['WebP', 'webp'],
  ] as const)(
    'keeps an animated %s moving in WebP, first frame elsewhere',
    async (_label, format) => {
      // Prepare
      const animated = await animation(format);
      expect((await sharp(animated).metadata()).pages).toBe(3);

      // Act
      const result = await resizeImage(animated, [
        ...VARIANTS,
        { name: 'moving', size: 30, format: 'webp' },
        { name: 'square', size: 16, format: 'webp', fit: 'cover' },
      ]);

      // Assess
      const [jpeg, png, moving, square] = result.variants;
      expect(result.source).toMatchObject({ width: 60, height: 40, format });
      expect(jpeg).toMatchObject({ format: 'jpeg', width: 30, height: 20 });
      expect(png).toMatchObject({ format: 'png', width: 30, height: 20 });
      expect(close(await firstPixel(png?.data), [255, 0, 0], 40)).toBe(true);
      expect((await sharp(png?.data).metadata()).pages ?? 1).toBe(1);
      expect(moving).toMatchObject({ format: 'webp', width: 30, height: 20 });
      expect(await sharp(moving?.data).metadata()).toMatchObject({
        format: 'webp',
        pages: 3,
        delay: [100, 200, 300],
        loop: 2,
      });
      expect(square).toMatchObject({ width: 16, height: 16 });
      expect((await sharp(square?.data).metadata()).pages).toBe(3);
    },
  );

  it('keeps only the first frame when all frames together exceed the pixel limit', async () => {
    // Prepare: each 60 × 40 frame fits in 5 000 pixels; the three together do not.
    const animated = await animation('gif');

    // Act
    const result = await resizeImage(animated, [{ name: 'v', size: 30, format: 'webp' }], {
      maxPixels: 5_000,
    });

    // Assess
    expect(result.variants[0]).toMatchObject({ width: 30, height: 20 });
    expect((await sharp(result.variants[0]?.data).metadata()).pages ?? 1).toBe(1);
  });
});

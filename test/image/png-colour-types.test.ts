import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { resizeImage } from '#commons/image/index.ts';
import { encodePng, type PngColourType } from '../fixtures/image/png.ts';

// Every colour type and bit depth the PNG specification allows.
const CASES: readonly { colourType: PngColourType; bitDepth: 1 | 2 | 4 | 8 | 16; label: string }[] =
  [
    { colourType: 0, bitDepth: 1, label: 'greyscale 1-bit' },
    { colourType: 0, bitDepth: 2, label: 'greyscale 2-bit' },
    { colourType: 0, bitDepth: 4, label: 'greyscale 4-bit' },
    { colourType: 0, bitDepth: 8, label: 'greyscale 8-bit' },
    { colourType: 0, bitDepth: 16, label: 'greyscale 16-bit' },
    { colourType: 2, bitDepth: 8, label: 'RGB 8-bit' },
    { colourType: 2, bitDepth: 16, label: 'RGB 16-bit' },
    { colourType: 3, bitDepth: 1, label: 'palette 1-bit' },
    { colourType: 3, bitDepth: 2, label: 'palette 2-bit' },
    { colourType: 3, bitDepth: 4, label: 'palette 4-bit' },
    { colourType: 3, bitDepth: 8, label: 'palette 8-bit' },
    { colourType: 4, bitDepth: 8, label: 'greyscale+alpha 8-bit' },
    { colourType: 4, bitDepth: 16, label: 'greyscale+alpha 16-bit' },
    { colourType: 6, bitDepth: 8, label: 'RGBA 8-bit' },
    { colourType: 6, bitDepth: 16, label: 'RGBA 16-bit' },
  ];

const WIDTH = 8;
const HEIGHT = 6;

/** Left half bright (white or red), right half dark (black or blue) or, with alpha, transparent. */
function sample(colourType: PngColourType, max: number) {
  return (x: number, _y: number, channel: number): number => {
    const left = x < WIDTH / 2;
    switch (colourType) {
      case 0:
        return left ? max : 0;
      case 3:
        return left ? 0 : 1;
      case 2:
        return channel === 0 ? (left ? max : 0) : channel === 2 ? (left ? 0 : max) : 0;
      case 4:
        return channel === 0 ? max : left ? max : 0;
      case 6:
        return channel === 0 || channel === 3 ? (left ? max : 0) : 0;
    }
  };
}

async function pixelAt(png: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const offset = (y * info.width + x) * info.channels;
  return [...data.subarray(offset, offset + 4)];
}

describe('resizeImage on every PNG colour type and bit depth', () => {
  it.each(CASES)('handles $label', async ({ colourType, bitDepth }) => {
    // Prepare
    const max = 2 ** bitDepth - 1;
    const png = encodePng({
      width: WIDTH,
      height: HEIGHT,
      colourType,
      bitDepth,
      sample: sample(colourType, max),
      ...(colourType === 3 ? { palette: [[255, 0, 0] as const, [0, 0, 255] as const] } : {}),
    });

    // Act
    const result = await resizeImage(png, [
      { name: 'same', size: 64, format: 'png' },
      { name: 'small', size: 4, format: 'jpeg' },
    ]);

    // Assess
    const [same, small] = result.variants;
    expect(result.source).toMatchObject({ width: WIDTH, height: HEIGHT, format: 'png' });
    expect(same).toMatchObject({ format: 'png', width: WIDTH, height: HEIGHT });
    expect(small).toMatchObject({ format: 'jpeg', width: 4, height: 3 });
    expect(await sharp(small?.data).metadata()).toMatchObject({
      format: 'jpeg',
      width: 4,
      height: 3,
    });
    const left = await pixelAt(same?.data ?? Buffer.alloc(0), 1, 1);
    const right = await pixelAt(same?.data ?? Buffer.alloc(0), WIDTH - 2, 1);
    const expected: Record<PngColourType, { left: number[]; right: number[] }> = {
      0: { left: [255, 255, 255, 255], right: [0, 0, 0, 255] },
      2: { left: [255, 0, 0, 255], right: [0, 0, 255, 255] },
      3: { left: [255, 0, 0, 255], right: [0, 0, 255, 255] },
      4: { left: [255, 255, 255, 255], right: [255, 255, 255, 0] },
      6: { left: [255, 0, 0, 255], right: [0, 0, 0, 0] },
    };
    expect(left).toEqual(expected[colourType].left);
    // A fully transparent pixel's colour is meaningless, so only its alpha is compared.
    const hasAlpha = colourType === 4 || colourType === 6;
    expect(hasAlpha ? right[3] : right).toEqual(
      hasAlpha ? expected[colourType].right[3] : expected[colourType].right,
    );
  });
});

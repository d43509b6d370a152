import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { resizeImage } from '#commons/image/index.ts';

const WIDTH = 80;
const HEIGHT = 48;
const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];

/** Upright test card: red top-left, green top-right, blue bottom-left, white bottom-right. */
function uprightCard(): Buffer {
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const top = y < HEIGHT / 2;
      const colour = x < WIDTH / 2 ? (top ? RED : BLUE) : top ? GREEN : WHITE;
      pixels.set(colour, (y * WIDTH + x) * 3);
    }
  }
  return pixels;
}

/**
 * How a camera would store the upright card under each EXIF orientation: the inverse of the
 * transform a viewer applies. One operation per sharp pipeline, so their order is unambiguous.
 */
const STORE_AS: Record<number, readonly ((image: Sharp) => Sharp)[]> = {
  1: [],
  2: [(image) => image.flop()],
  3: [(image) => image.rotate(180)],
  4: [(image) => image.flip()],
  5: [(image) => image.rotate(90), (image) => image.flop()],
  6: [(image) => image.rotate(270)],
  7: [(image) => image.rotate(270), (image) => image.flop()],
  8: [(image) => image.rotate(90)],
};

async function storedJpeg(orientation: number): Promise<Buffer> {
  let png = await sharp(uprightCard(), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .png()
    .toBuffer();
  for (const step of STORE_AS[orientation] ?? []) png = await step(sharp(png)).png().toBuffer();
  return sharp(png).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
}

function near(actual: number[], expected: number[]): boolean {
  return actual.every((value, index) => Math.abs(value - (expected[index] ?? 0)) < 40);
}

describe('resizeImage applies EXIF orientation', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('turns orientation %i upright', async (orientation) => {
    // Prepare
    const jpeg = await storedJpeg(orientation);
    expect((await sharp(jpeg).metadata()).orientation).toBe(orientation);

    // Act
    const result = await resizeImage(jpeg, [
      { name: 'full', size: 200, format: 'png' },
      { name: 'half', size: 40, format: 'jpeg' },
    ]);

    // Assess
    const [full, half] = result.variants;
    expect(result.source).toMatchObject({ width: WIDTH, height: HEIGHT, orientation });
    expect(half).toMatchObject({ width: 40, height: 24 });
    const { data, info } = await sharp(full?.data).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([WIDTH, HEIGHT]);
    const at = (x: number, y: number) => [
      ...data.subarray((y * WIDTH + x) * info.channels).subarray(0, 3),
    ];
    const corners = [at(10, 6), at(70, 6), at(10, 42), at(70, 42)];
    expect(
      corners.map((corner, index) => near(corner, [RED, GREEN, BLUE, WHITE][index] ?? [])),
    ).toEqual([true, true, true, true]);
    expect((await sharp(full?.data).metadata()).orientation).toBeUndefined();
  });
});

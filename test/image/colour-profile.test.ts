import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { iccDescription, isSrgbProfile } from '#commons/image/colour-profile.ts';
import { resizeImage } from '#commons/image/index.ts';

async function iccOf(profile: string): Promise<Buffer | undefined> {
  const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c03020' } })
    .withIccProfile(profile)
    .jpeg()
    .toBuffer();
  return (await sharp(jpeg).metadata()).icc;
}

describe('isSrgbProfile', () => {
  it.each([
    ['srgb', 'sRGB', true],
    ['p3', 'sP3C', false],
    ['cmyk', 'Chemical proof', false],
  ])('reads the %s profile as %s (sRGB: %s)', async (profile, description, srgb) => {
    // Prepare
    const icc = await iccOf(profile);

    // Act
    const found = { description: iccDescription(icc ?? Buffer.alloc(0)), srgb: isSrgbProfile(icc) };

    // Assess
    expect(found).toEqual({ description, srgb });
  });

  it.each([
    ['no profile', undefined],
    ['a truncated profile', Buffer.from('0000000061637370', 'hex')],
    ['garbage', Buffer.alloc(600, 0xff)],
  ])('is false for %s', (_label, icc) => {
    // Prepare
    const bytes = icc;

    // Act
    const srgb = isSrgbProfile(bytes);

    // Assess
    expect(srgb).toBe(false);
  });
});

describe('resizeImage with an embedded sRGB profile', () => {
  it('keeps the colours, skipping a conversion that would change nothing', async () => {
    // Prepare
    const jpeg = await sharp({
      create: { width: 64, height: 48, channels: 3, background: '#c03020' },
    })
      .withIccProfile('srgb')
      .jpeg({ quality: 95 })
      .toBuffer();

    // Act
    const result = await resizeImage(jpeg, [{ name: 'v', size: 32, format: 'png' }]);

    // Assess
    const output = result.variants[0]?.data;
    expect((await sharp(output).metadata()).icc).toBeUndefined();
    const [red, green, blue] = await sharp(output).raw().toBuffer();
    expect(
      [red, green, blue].map(
        (value, index) => Math.abs((value ?? 0) - ([0xc0, 0x30, 0x20][index] ?? 0)) < 6,
      ),
    ).toEqual([true, true, true]);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '#commons/errors.ts';
import {
  DEFAULT_IMAGE_CONFIG,
  type ImageConfig,
  InvalidVariantConfig,
  parseImageConfig,
  planVariantGroups,
} from '#commons/image/index.ts';

describe('DEFAULT_IMAGE_CONFIG', () => {
  it('is JPEG at 1600, 800 and 200 px long edge, quality 82', () => {
    // Prepare
    const { variants } = DEFAULT_IMAGE_CONFIG;

    // Act
    const summary = variants.map(({ size, format, quality, fit }) => ({
      size,
      format,
      quality,
      fit,
    }));

    // Assess
    expect(summary).toEqual([
      { size: 1600, format: 'jpeg', quality: 82, fit: 'inside' },
      { size: 800, format: 'jpeg', quality: 82, fit: 'inside' },
      { size: 200, format: 'jpeg', quality: 82, fit: 'inside' },
    ]);
    expect(DEFAULT_IMAGE_CONFIG.keepMetadata).toBe(false);
  });
});

describe('parseImageConfig', () => {
  it('fills omitted settings from the defaults and expands a list of formats', () => {
    // Prepare
    const json = {
      variants: [
        { name: 'large', size: 1600, format: ['jpeg', 'webp'], quality: 75 },
        { name: 'thumb', size: 160, format: 'avif', fit: 'cover' },
      ],
    };

    // Act
    const config = parseImageConfig(json);

    // Assess
    expect(config).toEqual({
      variants: [
        { name: 'large', size: 1600, format: 'jpeg', quality: 75, fit: 'inside' },
        { name: 'large', size: 1600, format: 'webp', quality: 75, fit: 'inside' },
        { name: 'thumb', size: 160, format: 'avif', fit: 'cover' },
      ],
      keepMetadata: false,
      maxPixels: DEFAULT_IMAGE_CONFIG.maxPixels,
      maxBytes: DEFAULT_IMAGE_CONFIG.maxBytes,
      timeoutMs: DEFAULT_IMAGE_CONFIG.timeoutMs,
    });
  });

  it('reads the limits and metadata setting', () => {
    // Prepare
    const json = {
      variants: [{ name: 'a', size: 10, format: 'png' }],
      keepMetadata: true,
      maxPixels: 1000,
      maxBytes: 2000,
      timeoutMs: 3000,
    };

    // Act
    const config = parseImageConfig(json);

    // Assess
    expect(config).toMatchObject({
      keepMetadata: true,
      maxPixels: 1000,
      maxBytes: 2000,
      timeoutMs: 3000,
    });
  });

  it.each([
    ['a non-object', [], /must be a JSON object, got \[\]/],
    ['no variants', { variants: [] }, /"variants" must be a non-empty array, got \[\]/],
    ['an unknown top-level key', { variants: [], extra: 1 }, /unknown key "extra"/],
    [
      'a bad name',
      { variants: [{ name: '../x', size: 10, format: 'png' }] },
      /variants\[0\]\.name .* got "\.\.\/x"/,
    ],
    [
      'a zero size',
      { variants: [{ name: 'a', size: 0, format: 'png' }] },
      /variants\[0\]\.size .* got 0/,
    ],
    ['a fractional size', { variants: [{ name: 'a', size: 1.5, format: 'png' }] }, /got 1\.5/],
    [
      'an unknown format',
      { variants: [{ name: 'a', size: 10, format: 'gif' }] },
      /variants\[0\]\.format .* got "gif"/,
    ],
    [
      'a quality over 100',
      { variants: [{ name: 'a', size: 10, format: 'jpeg', quality: 101 }] },
      /quality .* got 101/,
    ],
    [
      'an unknown fit',
      { variants: [{ name: 'a', size: 10, format: 'jpeg', fit: 'fill' }] },
      /fit .* got "fill"/,
    ],
    [
      'an unknown variant key',
      { variants: [{ name: 'a', size: 10, format: 'jpeg', width: 3 }] },
      /unknown key "width"/,
    ],
    [
      'a duplicate',
      {
        variants: [
          { name: 'a', size: 10, format: 'jpeg' },
          { name: 'a', size: 20, format: 'jpeg' },
        ],
      },
      /"a" is declared twice as jpeg/,
    ],
    [
      'a non-boolean keepMetadata',
      { variants: [{ name: 'a', size: 10, format: 'png' }], keepMetadata: 'yes' },
      /"keepMetadata" .* got "yes"/,
    ],
    [
      'a negative maxPixels',
      { variants: [{ name: 'a', size: 10, format: 'png' }], maxPixels: -1 },
      /"maxPixels" .* got -1/,
    ],
  ])('rejects %s, naming the value', (_label, json, message) => {
    // Prepare
    const parse = () => parseImageConfig(json);

    // Act
    const thrown = (() => {
      try {
        parse();
      } catch (error) {
        return error;
      }
      return undefined;
    })();

    // Assess
    expect(thrown).toBeInstanceOf(InvalidVariantConfig);
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as Error).name).toBe('InvalidVariantConfig');
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('planVariantGroups', () => {
  it('makes one group per output format, largest variant first', () => {
    // Prepare
    const config: ImageConfig = parseImageConfig({
      variants: [
        { name: 'small', size: 200, format: ['jpeg', 'avif'] },
        { name: 'large', size: 1600, format: ['jpeg', 'avif', 'webp'] },
      ],
    });

    // Act
    const groups = planVariantGroups(config);

    // Assess
    expect(
      groups.map((group) => [group.name, group.variants.map((v) => `${v.name}.${v.format}`)]),
    ).toEqual([
      ['jpeg', ['large.jpeg', 'small.jpeg']],
      ['avif', ['large.avif', 'small.avif']],
      ['webp', ['large.webp']],
    ]);
    expect(JSON.parse(JSON.stringify(groups))).toEqual(groups);
  });

  it('keeps the default set in a single JPEG group', () => {
    // Prepare
    const config = DEFAULT_IMAGE_CONFIG;

    // Act
    const groups = planVariantGroups(config);

    // Assess
    expect(groups).toHaveLength(1);
    expect(groups[0]?.variants.map((variant) => variant.size)).toEqual([1600, 800, 200]);
  });
});

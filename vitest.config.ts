import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CI has 2 cores shared by every test file: generous limits keep a slow moment from failing
    // a correct test. Speed targets live in bench/, never here.
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});

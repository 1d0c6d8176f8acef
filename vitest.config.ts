import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@missive/source'] },
  ssr: { resolve: { conditions: ['@missive/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});

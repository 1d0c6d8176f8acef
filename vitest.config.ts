import { defineConfig } from 'vitest/config';

/**
 * One worker: two files at once cut the wall time (427 s against about 800 s) but made the
 * PostgreSQL saga and poison cases flaky on two cores (3 failures in 2 of 4 full runs).
 *
 * Two groups: everything that can share the machine runs in parallel first; then the disruptive
 * tests (`*.disruptive.test.ts`: they restart a broker or raise its alarms, which every other test
 * using that broker would feel) run one file at a time, alone.
 */
export default defineConfig({
  resolve: { conditions: ['@missive/source'] },
  ssr: { resolve: { conditions: ['@missive/source'] } },
  test: {
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**', '**/*.disruptive.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'disruptive',
          include: ['packages/*/src/**/*.disruptive.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

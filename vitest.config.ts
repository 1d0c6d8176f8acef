import { defineConfig } from 'vitest/config';

/**
 * Two workers on every machine: most test time is waiting on brokers, child processes and timers,
 * so two files at once nearly halve the wall time even on two cores (vitest's default there is one).
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
    maxWorkers: 2,
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

import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files known to run longest (a minute or more on two loaded cores): the transport conformance
 * targets (52 cases each), the install check (packs, installs, compiles), the fault scenarios and the
 * examples' end-to-end runs. They start first, so that no worker is left with one of them at the end.
 */
const LONGEST = [
  /-transport\.(integration\.)?test\.ts$/,
  /nats-binary-content\.integration\.test\.ts$/,
  /test\/install\.e2e\.test\.ts$/,
  /fault-scenarios\.integration\.test\.ts$/,
  /examples\/[^/]+\/test\/[^/]+\.e2e\.test\.ts$/,
];

/**
 * Vitest's order (group, then the durations it cached from the last run: longest first), except that
 * the {@link LONGEST} files lead their group whether or not there is a cache (a fresh checkout, CI):
 * without one vitest orders by file size, and the conformance targets are ten-line files.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => (LONGEST.some((pattern) => pattern.test(spec.moduleId)) ? 0 : 1);
    // Array.prototype.sort is stable: within a rank, vitest's order stays.
    return sorted.sort((a, b) => a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || rank(a) - rank(b));
  }
}

/**
 * Two workers: most of the suite's time is waiting on brokers, timers and child processes, so two
 * files at once take about half the wall time on two cores (504 s against 925 s, load 9-13). One
 * worker was tried after two made the PostgreSQL saga and poison cases flaky; both causes were
 * fixed since (85185db: a closed consumer's claim under way; 2a2978b: the outbox relay sent a
 * removed message again), and the timing-sensitive cases were given room for a loaded machine.
 *
 * Two groups: everything that can share the machine runs in parallel first; then the disruptive
 * tests (`*.disruptive.test.ts`: they restart a broker or raise its alarms, which every other test
 * using that broker would feel) run one file at a time, alone. (With `maxWorkers: 1` vitest put the
 * shared files in a sequential group of their own that ran after the disruptive ones.)
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
    sequence: { sequencer: LongestFirst },
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

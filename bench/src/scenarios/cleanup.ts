/**
 * Deletes what a scenario's subjects created (queues, files), logging and going on past failures.
 *
 * @module
 */
import { loadSubject } from '../harness/roles.js';
import type { Subject } from '../harness/rounds.js';

export async function cleanupAll(subjects: readonly Subject[], log: (line: string) => void): Promise<void> {
  for (const subject of subjects) {
    try {
      const mod = await loadSubject(subject.module);
      await mod.cleanup?.(subject.args);
    } catch (error) {
      log(`  cleanup of ${subject.label} failed: ${(error as Error).message}`);
    }
  }
}

/**
 * `stopOnSignals` in a real process: SIGTERM drains the in-flight handler, runs the clean-up and
 * exits 0; a stop that fails exits 1; a second signal during the drain exits at once with 128 +
 * its number. The example services stop this way (`run` in each example's `src/runtime.ts`).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startProcess } from '@missive/testing';

const fixture = fileURLToPath(new URL('./test-fixtures/signal-service.ts', import.meta.url));
const start = (release: 'on-signal' | 'never' | 'fail-stop') =>
  startProcess(process.execPath, ['--conditions=@missive/source', '--import', 'tsx', fixture, release]);

describe('stopOnSignals', () => {
  it('drains the in-flight handler on SIGTERM, runs onStop, and exits 0', async () => {
    const service = start('on-signal');
    await service.waitFor(/^in-flight w-1$/, 20_000);
    service.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(service.lines).toEqual(['in-flight w-1', 'stopping', 'handled w-1', 'cleaned up']);
  });

  it('exits at once with 130 on SIGINT while a SIGTERM drain waits', async () => {
    const service = start('never');
    await service.waitFor(/^in-flight w-1$/, 20_000);
    service.kill('SIGTERM');
    await service.waitFor(/^stopping$/);
    service.kill('SIGINT');
    expect(await service.exited).toBe(130);
    expect(service.lines).not.toContain('handled w-1');
    expect(service.lines).not.toContain('cleaned up');
  });

  it('exits 1 when the stop fails (its clean-up throws), after draining', async () => {
    const service = start('fail-stop');
    await service.waitFor(/^in-flight w-1$/, 20_000);
    service.kill('SIGINT');
    expect(await service.exited).toBe(1);
    expect(service.lines).toContain('handled w-1');
    expect(service.lines).not.toContain('cleaned up');
  });
});

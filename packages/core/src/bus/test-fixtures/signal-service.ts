/**
 * A service process for `stop-on-signals.test.ts`: a bus on the memory transport whose handler is
 * in flight when the test signals. `release` decides whether the handler finishes once the first
 * signal arrives (`on-signal`) or never (`never`, to test the second signal); `fail-stop`: as
 * `on-signal`, and the clean-up after the stop throws.
 */
import { createBus, defineEvent, silentLogger, stopOnSignals } from '@missive/core';
import { z } from 'zod';

const Work = defineEvent('signals.work', z.object({ id: z.string() }));
const release = process.argv[2] === 'never' ? 'never' : 'on-signal';
const failStop = process.argv[2] === 'fail-stop';
const bus = createBus({ service: 'signals', transport: 'memory://', logger: silentLogger, stopTimeoutMs: 20_000 });
let letGo: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (letGo = resolve));
let signalled = false;
const onFirstSignal = (): void => {
  if (signalled) return;
  signalled = true;
  process.stdout.write('stopping\n');
  if (release === 'on-signal') setImmediate(letGo);
};
process.on('SIGTERM', onFirstSignal);
process.on('SIGINT', onFirstSignal);
bus.endpoint('signals', (e) =>
  e.on(Work, async (work) => {
    process.stdout.write(`in-flight ${work.id}\n`);
    await gate;
    process.stdout.write(`handled ${work.id}\n`);
  }),
);
// The memory transport holds no socket or file open: this timer keeps the process alive like a real
// service's server would, until onStop closes it.
const alive = setInterval(() => undefined, 60_000);
stopOnSignals(bus, {
  onStop: () => {
    clearInterval(alive);
    if (failStop) throw new Error('the clean-up failed');
    process.stdout.write('cleaned up\n');
  },
});
await bus.start();
await bus.publish(Work, { id: 'w-1' });

import { describeFaultScenarios } from '@missive/testing/vitest';
import { MemoryBroker } from './memory-broker.js';

describeFaultScenarios({
  name: 'memory',
  virtualClock: true,
  setup(clock) {
    const broker = new MemoryBroker({ clock });
    return { connect: () => broker.transport(), quiet: () => broker.isQuiet(), activity: () => broker.activity };
  },
});

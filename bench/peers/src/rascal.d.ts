/** The few parts of Rascal's API the benchmark uses (Rascal ships no types; @types/rascal is for v10). */
declare module 'rascal' {
  import type { EventEmitter } from 'node:events';
  interface BrokerAsPromised extends EventEmitter {
    publish(name: string, message: unknown): Promise<EventEmitter>;
    subscribe(name: string): Promise<EventEmitter>;
    shutdown(): Promise<void>;
  }
  const rascal: {
    withDefaultConfig(config: unknown): unknown;
    BrokerAsPromised: { create(config: unknown): Promise<BrokerAsPromised> };
  };
  export default rascal;
}

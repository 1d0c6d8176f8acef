/**
 * What a scenario is: a name, a time budget, and a function that measures and returns the
 * markdown of its section (tables and notes). The runner adds the heading, the command, the date
 * and the machine facts.
 *
 * @example
 * ```ts
 * export const memory: Scenario = { name: 'memory', budgetMs: 90_000, facts: {}, run: async (ctx) => '...' };
 * ```
 * @module
 */
import type { FactsWanted } from './machine.js';

export interface ScenarioContext {
  /** Fewer rounds and messages: a smoke run. */
  readonly quick: boolean;
  /** Rounds asked for on the command line, if any. */
  readonly rounds: number | undefined;
  /** Epoch ms by which the scenario should be done. */
  readonly deadline: number;
  readonly log: (line: string) => void;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** The scenario's time budget, ms; rounds stop starting when it is spent. */
  readonly budgetMs: number;
  readonly facts: FactsWanted;
  run(ctx: ScenarioContext): Promise<string>;
}

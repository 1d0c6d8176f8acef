/**
 * The benchmark command: `npm run bench -- <scenario|all> [--quick] [--rounds N]`. Runs the named
 * scenarios one after another, prints each one's tables (markdown) with the machine's facts and the
 * exact command, and writes them to `bench/results/<scenario>.md`.
 *
 * @example
 * ```sh
 * npm run bench -- memory
 * npm run bench -- all
 * ```
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineFacts } from './harness/machine.js';
import type { Scenario } from './harness/scenario.js';
import { memory } from './scenarios/memory.js';
import { rabbitmq } from './scenarios/rabbitmq.js';
import { redis } from './scenarios/redis.js';
import { sqlite } from './scenarios/sqlite.js';
import { peers } from './scenarios/peers.js';
import { postgres } from './scenarios/postgres.js';
import { postgresLatency } from './scenarios/postgres-latency.js';
import { scale } from './scenarios/scale.js';
import { nats } from './scenarios/nats.js';
import { telemetry } from './scenarios/telemetry.js';
import { journalScenario } from './scenarios/journal.js';
import { journalLookup } from './scenarios/journal-lookup.js';
import { startup } from './scenarios/startup.js';

const SCENARIOS: readonly Scenario[] = [
  memory,
  rabbitmq,
  redis,
  sqlite,
  postgres,
  postgresLatency,
  nats,
  peers,
  scale,
  telemetry,
  journalScenario,
  journalLookup,
  startup,
];
const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

function usage(): never {
  console.error(`usage: npm run bench -- <${SCENARIOS.map((s) => s.name).join('|')}|all> [--quick] [--rounds N]`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const roundsAt = argv.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(argv[roundsAt + 1]) : undefined;
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) usage();
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') i++;
    else if (!argv[i]!.startsWith('--')) names.push(argv[i]!);
  }
  const wanted =
    names.length === 0 ? usage() : names.includes('all') ? SCENARIOS : names.map((n) => SCENARIOS.find((s) => s.name === n) ?? usage());
  const command = `npm run bench -- ${argv.join(' ')}`;
  mkdirSync(RESULTS, { recursive: true });
  const startedAll = Date.now();
  const log = (line: string) => console.error(`[bench ${((Date.now() - startedAll) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  let failures = 0;
  for (const scenario of wanted) {
    const started = Date.now();
    log(`${scenario.name}: start (budget ${Math.round(scenario.budgetMs / 1000)} s)`);
    let body: string;
    try {
      body = await scenario.run({ quick, rounds, deadline: started + scenario.budgetMs, log });
    } catch (error) {
      failures++;
      body = `The scenario failed: ${(error as Error).stack ?? String(error)}`;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    const scenarioCommand = `npm run bench -- ${scenario.name}${quick ? ' --quick' : ''}${rounds === undefined ? '' : ` --rounds ${rounds}`}`;
    const text = [
      `## ${scenario.title}`,
      '',
      `Command: \`${scenarioCommand}\` (this run: \`${command}\`, ${new Date(started).toISOString()}, ${seconds} s)`,
      '',
      await machineFacts(scenario.facts),
      '',
      body,
      '',
    ].join('\n');
    writeFileSync(`${RESULTS}${scenario.name}.md`, text);
    console.log(`${text}\n`);
    log(`${scenario.name}: done in ${seconds} s, written to bench/results/${scenario.name}.md`);
  }
  log(`all done in ${((Date.now() - startedAll) / 1000).toFixed(0)} s`);
  process.exitCode = failures > 0 ? 1 : 0;
}

await main();

/**
 * Builds side by side with no OpenTelemetry provider registered: what Missive's tracing and metrics
 * instrumentation costs when nothing records (issue 15's "no provider: within 3%"). Each round runs
 * `telemetry-cost.js --child <path> --mode none` once from each build's own `bench/dist` (so each
 * imports its own `@missive/core`), in fresh processes, the order turning every round (A B C, B C
 * A, …). It prints, per build, the median CPU µs per message (min–max) and the median of each
 * round's ratio to the first build.
 *
 * ```sh
 * node bench/dist/profile/telemetry-none-ab.js --path rabbitmq --rounds 10 --count 5000 main=/tmp/main bare=/tmp/bare now=.
 * node bench/dist/profile/telemetry-none-ab.js --path memory --rounds 10 --count 50000 main=/tmp/main bare=/tmp/bare now=.
 * ```
 * Each build is a checkout with `npm run build` done. `--warmup N` is passed to the children.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { spread } from '../harness/stats.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const path = option('path', 'memory');
const rounds = Number(option('rounds', '6'));
const count = Number(option('count', path === 'memory' ? '50000' : '5000'));
const warmup = process.argv.includes('--warmup') ? ['--warmup', option('warmup', '')] : [];
const builds = process.argv
  .slice(2)
  .filter((arg) => arg.includes('=') && !arg.startsWith('--'))
  .map((arg) => ({ label: arg.slice(0, arg.indexOf('=')), dir: resolve(arg.slice(arg.indexOf('=') + 1)) }));
if (builds.length === 0) throw new Error('name the builds to compare: label=checkout …');

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const median = (values: readonly number[]): number => spread(values).median;
const range = (values: readonly number[], digits: number): string => {
  const { min, max } = spread(values);
  return `${min.toFixed(digits)}–${max.toFixed(digits)}`;
};

const cpu = new Map<string, number[]>(builds.map((b) => [b.label, []]));
const startedAt = new Date().toISOString();
const loadBefore = load();
for (let round = 0; round < rounds; round++) {
  const order = builds.map((_, i) => builds[(i + round) % builds.length]!);
  for (const build of order) {
    const name = `bench-none-ab-${build.label}-${process.pid}-${round}`;
    const args = [`${build.dir}/bench/dist/profile/telemetry-cost.js`, '--child', path, '--mode', 'none', '--count', String(count)];
    const out = execFileSync(process.execPath, [...args, '--name', name, '--no-minimum', ...warmup], {
      cwd: build.dir,
      encoding: 'utf8',
      timeout: 300_000,
    });
    const result = JSON.parse(out.trim().split('\n').pop()!) as { cpuUsPerMessage: number };
    cpu.get(build.label)!.push(result.cpuUsPerMessage);
    console.error(`round ${round + 1} ${build.label.padEnd(8)} ${result.cpuUsPerMessage.toFixed(2)} µs/msg  load ${load()}`);
  }
}
const first = cpu.get(builds[0]!.label)!;
console.log(
  `telemetry-none-ab ${path}, ${startedAt}, ${rounds} rounds of ${count}, load average ${loadBefore} at the start, ${load()} at the end`,
);
console.log('');
console.log(`| build | CPU µs/msg, median (min–max) | ÷ ${builds[0]!.label}, median of the rounds (min–max) |`);
console.log('|---|---:|---:|');
for (const { label } of builds) {
  const values = cpu.get(label)!;
  const ratios = values.map((v, i) => v / first[i]!);
  console.log(`| ${label} | ${median(values).toFixed(2)} (${range(values, 2)}) | ${median(ratios).toFixed(3)} (${range(ratios, 3)}) |`);
}

#!/usr/bin/env node
/**
 * Fails when a package's source has an import cycle: a file that imports, directly or through
 * others, a file that imports it back. Type-only imports count too (a cycle through types still
 * ties the files' designs together). Run by `npm run lint`; `node scripts/check-cycles.mjs <pkg>...`
 * checks the named packages instead (e.g. one not in the list yet).
 *
 * Each package is checked on its own (`packages/<name>/src`): workspace packages cannot import
 * each other in a circle (`tsc -b` refuses that), so a cycle always lies inside one package.
 *
 * To check another package, add its folder name to CHECKED.
 */
import { parseCircular, parseDependencyTree, prettyCircular } from 'dpdm';
import { fileURLToPath } from 'node:url';

const CHECKED = ['core', 'testing', 'cli', 'otel', 'eventsourcing', 'postgres', 'nats', 'redis', 'mqtt', 'rabbitmq', 'sqlite', 'dashboard'];

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = process.argv.length > 2 ? process.argv.slice(2) : CHECKED;
let failed = 0;
for (const name of packages) {
  const src = `packages/${name}/src/`;
  const tree = await parseDependencyTree(`${src}**/*.ts`, {
    cwd: root,
    context: root,
    tsconfig: `${root}tsconfig.json`,
    transform: false,
    include: new RegExp(`^${src.replaceAll('/', '\\/')}|/${src.replaceAll('/', '\\/')}`),
    exclude: /node_modules|\/dist\//,
  });
  const circles = parseCircular(tree);
  if (circles.length === 0) continue;
  failed++;
  console.error(`import cycles in ${src}:\n${prettyCircular(circles, '  ')}`);
}
if (failed > 0) {
  console.error(
    `${failed} package(s) with import cycles: make one side depend on an interface the other implements, or move the shared part below both.`,
  );
  process.exitCode = 1;
} else {
  console.log(`no import cycles in ${packages.join(', ')}`);
}

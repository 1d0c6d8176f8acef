/**
 * Summarizes V8 `.cpuprofile` files: self time per function (with its file and line) and per
 * file, highest first; and per package, where time in Node's own code (streams, buffers, natives)
 * counts for the package that called it (`packages/nats`, `node_modules/nats`, …).
 *
 * ```sh
 * node bench/dist/profile/summarize.js /tmp/missive-prof/*.cpuprofile [top]
 * ```
 * @module
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  parent?: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const files = process.argv.slice(2).filter((a) => a.endsWith('.cpuprofile'));
const top = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 40);
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
const byPackage = new Map<string, number>();
/** The package of a frame's file, or undefined for Node's own code and natives. */
function packageOf(url: string): string | undefined {
  const m = /(node_modules\/(?:@[^/]+\/)?[^/]+|packages\/[^/]+|bench)\//.exec(url);
  return m?.[1];
}
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) nodes.get(c)!.parent = n.id;
  const ownerOf = (id: number): string => {
    const leaf = nodes.get(id)!.callFrame.functionName;
    if (leaf === '(idle)' || leaf === '(garbage collector)' || leaf === '(program)') return leaf;
    for (let n: Node | undefined = nodes.get(id); n !== undefined; n = n.parent === undefined ? undefined : nodes.get(n.parent)) {
      const p = packageOf(n.callFrame.url);
      if (p !== undefined) return p;
    }
    return '(node, no caller of ours)';
  };
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = nodes.get(id)!.callFrame;
    const where = frame.url
      .replace(/^file:\/\//, '')
      .replace(/.*\/node_modules\//, 'node_modules/')
      .replace(/.*\/(packages|bench)\//, '$1/');
    const fn = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
    const fileKey = where === '' ? `(${frame.functionName})` : where;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + dt);
    const owner = ownerOf(id);
    byPackage.set(owner, (byPackage.get(owner) ?? 0) + dt);
    total += dt;
  });
}
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
};
show('self time by function', byFunction);
show('self time by file', byFile);
show("by package (Node's own code charged to the package that called it)", byPackage);

/** A process that publishes `count` messages to a topic as fast as it can, then prints `done`. */
import { SqliteTransport } from '../sqlite-transport.js';

const [path, topic, prefix, count] = process.argv.slice(2) as [string, string, string, string];
const transport = new SqliteTransport({ path, busyTimeoutMs: 50 });
await transport.connect();
for (let i = 0; i < Number(count); i++) {
  await transport.publish(topic, { id: `${prefix}-${i}`, type: 'stress', body: Buffer.from(String(i)), headers: {} });
}
await transport.close();
process.stdout.write('done\n');

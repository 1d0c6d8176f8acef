import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@missive/core';
import { failoverTarget, nodeUrl } from './failover.js';
import { resolveRabbitMqOptions } from './rabbitmq-options.js';

describe('failover nodes', () => {
  it('reads the failover nodes from the URL or the option, the URL host first', () => {
    const fromUrl = resolveRabbitMqOptions({ url: 'amqp://u:p@10.0.0.1:5681/shop?failover=10.0.0.2:5682,10.0.0.3' });
    expect(fromUrl.nodes).toEqual([
      { hostname: '10.0.0.1', port: 5681 },
      { hostname: '10.0.0.2', port: 5682 },
      { hostname: '10.0.0.3', port: 5672 },
    ]);
    expect(fromUrl.url).not.toContain('failover');
    expect(resolveRabbitMqOptions({ url: 'amqp://h', failover: ['k:1'] }).nodes).toEqual([
      { hostname: 'h', port: 5672 },
      { hostname: 'k', port: 1 },
    ]);
    expect(resolveRabbitMqOptions({ url: 'amqp://h' }).nodes).toHaveLength(1);
    expect(() => resolveRabbitMqOptions({ url: 'amqp://h?failover=u:p@k:1/x' })).toThrow(ConfigurationError);
  });

  it('points the connect target at the next node before each attempt, with the credentials, vhost and heartbeat of the URL', () => {
    const { url, nodes } = resolveRabbitMqOptions({ url: 'amqp://us%40er:pa%3Ass@a:1/v%2Fh?failover=b:2,c:3' });
    const failover = failoverTarget(url, nodes);
    expect(failover.target).toMatchObject({
      protocol: 'amqp',
      hostname: 'a',
      port: 1,
      username: 'us@er',
      password: 'pa:ss',
      vhost: 'v/h',
      heartbeat: 10,
    });
    expect(failover.advance(1)).toBe(0);
    expect(failover.target).toMatchObject({ hostname: 'b', port: 2 });
    expect(failover.advance(2)).toBe(0);
    expect(failover.current()).toEqual({ hostname: 'c', port: 3 });
    expect(failover.advance(3)).toBeGreaterThan(0); // a whole round failed: back off
    expect(failover.target).toMatchObject({ hostname: 'a', port: 1 });
  });

  it('names a node by the URL pointed at it, with the password redacted', () => {
    const { url, nodes } = resolveRabbitMqOptions({ url: 'amqp://us%40er:s3cret@a:1/v%2Fh?failover=b:2,[::1]:3' });
    expect(nodeUrl(url, nodes[1]!)).toBe('amqp://us%40er:***@b:2/v%2Fh?heartbeat=10');
    expect(nodeUrl(url, nodes[2]!)).toBe('amqp://us%40er:***@[::1]:3/v%2Fh?heartbeat=10');
  });
});

/**
 * What the transport creates on the server: the four streams of a prefix (messages, dead letters,
 * scheduled, stored retry headers) with the scheduler's consumer, and the lanes of a queue (one
 * durable pull consumer per subject it takes, and per partition slot when it is ordered). See the
 * package README for the mapping.
 *
 * @example
 * ```ts
 * await ensureStreams(jsm, names, 1);
 * for (const { config } of lanesFor(spec, false, names, options)) await ensureConsumer(jsm, names.messages, config);
 * ```
 * @module
 */
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from 'nats';
import { ConfigurationError } from '@missive/core';
import { checkTopicPattern, type QueueSpec } from '@missive/core/transport';
import { apiCode, ApiError } from './api-errors.js';
import type { LaneInfo } from './bindings.js';
import { patternSubjects, queueToken, shortHash, SLOTS, type Naming } from './naming.js';

const DUPLICATE_WINDOW_MS = 120_000;
const STORED_HEADERS_MAX_AGE_MS = 7 * 24 * 3600_000;

/** A durable consumer's configuration. */
export type DurableConfig = Partial<ConsumerConfig> & { durable_name: string };

async function ensureStream(jsm: JetStreamManager, replicas: number, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    return;
  } catch (error) {
    if (apiCode(error) !== ApiError.StreamNotFound) throw error;
  }
  try {
    await jsm.streams.add({ storage: StorageType.File, num_replicas: replicas, ...config });
  } catch (error) {
    // Another process may have created it first (the server then says "name already in use" or
    // "subjects overlap"): fine if it is there now.
    await jsm.streams.info(config.name).catch(() => {
      throw error;
    });
  }
}

/** Creates the prefix's streams and the scheduler's consumer where they do not exist. */
export async function ensureStreams(jsm: JetStreamManager, names: Naming, replicas: number): Promise<void> {
  const p = names.prefix;
  await Promise.all([
    ensureStream(jsm, replicas, {
      name: names.messages,
      subjects: [`${p}.*.t.>`, `${p}.*.q.>`],
      retention: RetentionPolicy.Interest,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    }),
    ensureStream(jsm, replicas, {
      name: names.deadLetters,
      subjects: [`${p}.x.dlq.>`],
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    }),
    ensureStream(jsm, replicas, {
      name: names.scheduled,
      subjects: [`${p}.x.sched.>`],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    }),
    ensureStream(jsm, replicas, {
      name: names.retries,
      subjects: [`${p}.x.retry.>`],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 1,
      max_age: nanos(STORED_HEADERS_MAX_AGE_MS),
    }),
  ]);
  await ensureConsumer(jsm, names.scheduled, {
    durable_name: names.scheduler,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(30_000),
    max_deliver: -1,
    max_ack_pending: 100_000,
  });
}

/** Creates a durable consumer; resolves with its info, or undefined when it existed already (with another configuration, it is kept). */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: DurableConfig): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.add(stream, config);
  } catch (error) {
    const code = apiCode(error);
    if (code !== ApiError.ConsumerAlreadyExists && code !== ApiError.ConsumerExists) throw error;
    return undefined;
  }
}

/** The lanes of a queue: their consumer configurations and what the binding table records of them. */
export function lanesFor(
  spec: QueueSpec,
  ordered: boolean,
  names: Naming,
  options: { readonly ackWaitMs: number; readonly maxDeliver: number },
): { config: DurableConfig; lane: LaneInfo }[] {
  const token = queueToken(spec.name);
  const out: { config: DurableConfig; lane: LaneInfo }[] = [];
  const subjects: { kind: string; filter: (slot: string) => string; pattern: string | undefined }[] = [
    { kind: 'd', filter: (slot) => names.queueSubject(spec.name, slot), pattern: undefined },
  ];
  for (const pattern of spec.topics) {
    checkTopicPattern(pattern);
    const filters = patternSubjects(pattern);
    if (filters === undefined)
      throw new ConfigurationError(
        `topic pattern "${pattern}" has "#" before its end, which NATS subjects cannot express: put "#" last or use "*"`,
      );
    for (const f of filters) subjects.push({ kind: `t${shortHash(f)}`, filter: (slot) => names.topicSubject(f, slot), pattern });
  }
  for (const s of subjects) {
    for (const slot of ordered ? SLOTS : ['*']) {
      const serial = ordered && slot !== '_';
      const name = `${token}!${s.kind}${ordered ? `!${slot}` : ''}`;
      const filter = s.filter(slot);
      out.push({
        config: {
          durable_name: name,
          filter_subject: filter,
          description: s.pattern,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(options.ackWaitMs),
          max_deliver: options.maxDeliver,
          max_ack_pending: serial ? 1 : 20_000,
          deliver_policy: DeliverPolicy.New,
        },
        lane: { name, queue: spec.name, filter, pattern: s.pattern, serial, pending: 0, ackPending: 0, created: Date.now() },
      });
    }
  }
  return out;
}

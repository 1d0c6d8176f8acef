/**
 * Typed-by-name messages between the runner and a child process over Node's IPC channel. Each
 * message is `{ type, data }`; `next(type)` waits for the next message of that type (messages that
 * arrive before anyone waits are kept).
 *
 * @example
 * ```ts
 * ipc.send('ready', {});
 * await ipc.next('go');
 * ```
 * @module
 */

/** What a child's exported role function looks like. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each role takes its own args
export type RoleFn = (args: any, ipc: Ipc) => Promise<unknown>;

type Message = { readonly type: string; readonly data: unknown };

/** Buffered, typed receiving over an event source of `{ type, data }` messages. */
export class Mailbox {
  private readonly queued = new Map<string, unknown[]>();
  private readonly waiting = new Map<string, ((data: unknown) => void)[]>();

  deliver(message: Message): void {
    const waiters = this.waiting.get(message.type);
    const waiter = waiters?.shift();
    if (waiter !== undefined) {
      waiter(message.data);
      return;
    }
    const list = this.queued.get(message.type) ?? [];
    list.push(message.data);
    this.queued.set(message.type, list);
  }

  next(type: string): Promise<unknown> {
    const list = this.queued.get(type);
    if (list !== undefined && list.length > 0) return Promise.resolve(list.shift());
    return new Promise((resolve) => {
      const waiters = this.waiting.get(type) ?? [];
      waiters.push(resolve);
      this.waiting.set(type, waiters);
    });
  }

  /** The latest queued message of a type, dropping older ones; undefined if none. */
  latest(type: string): unknown {
    const list = this.queued.get(type);
    if (list === undefined || list.length === 0) return undefined;
    const last = list[list.length - 1];
    list.length = 0;
    return last;
  }
}

/** The child's side. */
export class Ipc {
  private readonly mailbox = new Mailbox();

  constructor() {
    process.on('message', (message: Message) => this.mailbox.deliver(message));
  }

  send(type: string, data: unknown): void {
    process.send?.({ type, data });
  }

  next(type: string): Promise<unknown> {
    return this.mailbox.next(type);
  }

  latest(type: string): unknown {
    return this.mailbox.latest(type);
  }
}

/**
 * The middleware onion. A middleware is `(ctx, next) => Promise<void>`: it may act before and
 * after `next()`, skip it, or throw. `compose` turns a list of middleware and a terminal into one
 * function: the bus composes its publish middleware around the send, and an endpoint's consume
 * middleware around validation and the handler (the built-in consume steps around them are plain
 * calls, see `consume-pipeline.ts`).
 *
 * @example
 * ```ts
 * const timing: Middleware<ConsumeContext> = async (ctx, next) => {
 *   const started = performance.now();
 *   try { await next(); } finally { console.log(ctx.envelope.type, performance.now() - started); }
 * };
 * ```
 * @module
 */

/** A pipeline step. Calling `next` more than once runs the rest of the pipeline again (retries do that). */
export type Middleware<C> = (ctx: C, next: () => Promise<void>) => Promise<void>;

/** Composes middleware around a terminal step, outermost first. */
export function compose<C>(middleware: readonly Middleware<C>[], terminal: (ctx: C) => Promise<void>): (ctx: C) => Promise<void> {
  let run = terminal;
  for (let i = middleware.length - 1; i >= 0; i--) {
    const step = middleware[i]!;
    const inner = run;
    run = (ctx) => step(ctx, () => inner(ctx));
  }
  return run;
}

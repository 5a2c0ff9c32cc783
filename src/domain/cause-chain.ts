/**
 * The one walk down an error's `cause` chain, for every layer: the Azure classification reads what MSAL and
 * undici nested, the CLI and the workflows show the failure that says what went wrong. Pure; sandbox-safe.
 */

/** Links followed at most: causes are nested a few deep (SDK wrappers); a cyclic chain still ends. */
export const MAX_CAUSE_DEPTH = 6;

/** An error and its causes, outermost first, objects only, at most MAX_CAUSE_DEPTH of them. */
export function causeChain(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && chain.length < MAX_CAUSE_DEPTH) {
    chain.push(current as Record<string, unknown>);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/**
 * The deepest cause reached by following `cause` only out of errors `through` accepts (wrappers such as
 * ActivityFailure or ChildWorkflowFailure); the error itself when it is no such wrapper or has no cause.
 */
export function innermostCause<T>(error: T, through: (error: unknown) => boolean): T | unknown {
  const chain = causeChain(error);
  let index = 0;
  while (index + 1 < chain.length && through(chain[index])) index += 1;
  return chain.length === 0 ? error : chain[index];
}

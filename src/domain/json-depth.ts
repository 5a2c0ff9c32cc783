/**
 * How deeply a JSON value nests, measured without recursion, so that a hostile document cannot overflow
 * the stack while it is being measured. Shared by the inventory (which refuses deep documents where they
 * enter) and the policy writers (which never walk a document deeper than that). Pure.
 */

/**
 * The deepest a policy document may nest, counting the document itself as level 1 and each object or
 * array inside it as one more. Real policies nest a handful of levels (rules → rule → condition); 32 leaves
 * room for any of them while keeping every recursive walk of a document (JSON.stringify, structuredClone,
 * equality, the twin merge patch) thousands of frames away from V8's stack limit, which 20 KB of nested
 * arrays reaches (about 5,000 levels).
 */
export const MAX_POLICY_DEPTH = 32;

/**
 * The nesting depth of `value`: 0 for a scalar, 1 for an object or array of scalars, and so on. Stops
 * looking once the depth passes `stopAfter` and returns `stopAfter + 1`, so a caller that only needs to
 * know "too deep" does not walk the rest of a large document.
 */
export function jsonDepth(value: unknown, stopAfter = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > stopAfter) return stopAfter + 1;
    }
    const children = Array.isArray(node) ? node : Object.values(node as Record<string, unknown>);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return deepest;
}

/** Why a policy document nests too deeply, or undefined when it is within MAX_POLICY_DEPTH. */
export function policyDepthProblem(document: unknown): string | undefined {
  if (jsonDepth(document, MAX_POLICY_DEPTH) <= MAX_POLICY_DEPTH) return undefined;
  return `the document nests more than ${MAX_POLICY_DEPTH} levels of objects and arrays; at most ${MAX_POLICY_DEPTH} are allowed (flatten it)`;
}

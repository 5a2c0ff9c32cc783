/**
 * A workflow interceptor for tests that drive `policy-sync run` (which has no flag for the preflight
 * timeout, 30 minutes by default): a policySyncWorkflow started without `preflight` options gets a short
 * preflight, so a permission that is never granted fails the run in seconds instead of half an hour.
 * Bundled into a test worker's workflow code (bundleWorkflowCode's workflowInterceptorModules); sandbox-safe.
 */
import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const SHORT_PREFLIGHT = { firstRecheckInMs: 250, maxRecheckInMs: 1_000, timeoutInMs: 3_000 };

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        const [first, ...rest] = input.args;
        if (
          workflowInfo().workflowType === 'policySyncWorkflow' &&
          typeof first === 'object' &&
          first !== null &&
          !('preflight' in first)
        ) {
          return next({ ...input, args: [{ ...first, preflight: SHORT_PREFLIGHT }, ...rest] });
        }
        return next(input);
      },
    },
  ],
});

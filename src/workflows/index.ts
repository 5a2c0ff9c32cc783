/**
 * The worker's workflowsPath: exports workflow functions only. Signals, queries and search attributes live in
 * ./messages and ./search-attributes; data shapes in ./types.
 */
export { policySyncWorkflow } from './policy-sync';
export { policyBatchWorkflow } from './policy-batch';

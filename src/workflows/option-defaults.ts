/**
 * Which generation of defaults a sync run takes for what its input leaves out. Runs started before a change of
 * defaults replay with the defaults they started with: their page size, window and preflight timers are in
 * their history. Workflow code (uses `patched`).
 */
import { patched } from '@temporalio/workflow';
import {
  CURRENT_DEFAULTS,
  SYNC_DEFAULTS_V2_PATCH,
  SYNC_DEFAULTS_V3_PATCH,
  V1_DEFAULTS,
  V2_DEFAULTS,
  type OptionDefaults,
} from './options';

export function optionDefaults(): OptionDefaults {
  if (patched(SYNC_DEFAULTS_V3_PATCH)) return CURRENT_DEFAULTS;
  return patched(SYNC_DEFAULTS_V2_PATCH) ? V2_DEFAULTS : V1_DEFAULTS;
}

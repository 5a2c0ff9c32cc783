import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  asFailureCode,
  FAILURE_CODES,
  FailureType,
  NON_RETRYABLE_FAILURE_TYPES,
  OutcomeCode,
  RunFailureCode,
} from '../../src/domain/failure-codes';

void describe('failure codes', () => {
  void it('the retry policies skip exactly the activity codes no retry heals, in their recorded order', () => {
    assert.deepEqual(NON_RETRYABLE_FAILURE_TYPES, [
      'InvalidPolicy',
      'DeviceNotFound',
      'TargetUnsupported',
      'InvalidDeviceId',
      'PolicyNotFound',
      'InventoryChanged',
      'Misconfigured',
    ]);
  });

  void it('every code of FailureType, OutcomeCode and RunFailureCode is in the one list, and the list has no other', () => {
    const named = [
      ...Object.values(FailureType),
      ...Object.values(OutcomeCode),
      ...Object.values(RunFailureCode),
      'Error',
    ];
    assert.deepEqual([...named].sort(), Object.keys(FAILURE_CODES).sort());
    for (const code of Object.values(OutcomeCode)) assert.equal(FAILURE_CODES[code].raisedBy, 'workflow');
  });

  void it('a type or name outside the list becomes Error', () => {
    assert.equal(asFailureCode('Throttled'), 'Throttled');
    assert.equal(asFailureCode('ServerFailure'), 'Error');
    assert.equal(asFailureCode('toString'), 'Error');
    assert.equal(asFailureCode(undefined), 'Error');
  });
});

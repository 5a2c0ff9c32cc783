import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  abortThresholdExceeded,
  authErrorRateExceeded,
  makeAlert,
  permissionsNotPropagatedMessage,
} from '../../src/workflows/alert-rules';

const rule = { authErrorRateThreshold: 0.1, minAttempts: 20 };

void describe('alert rules', () => {
  void it('judges the 403 rate only after enough attempts, and strictly above the threshold', () => {
    assert.equal(authErrorRateExceeded({ authErrors: 10, writeAttempts: 19 }, rule), false);
    assert.equal(authErrorRateExceeded({ authErrors: 2, writeAttempts: 20 }, rule), false);
    assert.equal(authErrorRateExceeded({ authErrors: 3, writeAttempts: 20 }, rule), true);
    assert.equal(
      authErrorRateExceeded({ authErrors: 0, writeAttempts: 0 }, { ...rule, minAttempts: 0 }),
      false,
    );
  });

  void it('aborts past the number of finally-403 devices', () => {
    assert.equal(abortThresholdExceeded(50, 50), false);
    assert.equal(abortThresholdExceeded(51, 50), true);
  });

  void it('gives each kind a deterministic id', () => {
    assert.deepEqual(makeAlert('AuthErrorRate', 'm', '2026-01-01T00:00:00.000Z'), {
      id: 'auth-error-rate',
      kind: 'AuthErrorRate',
      message: 'm',
      raisedAt: '2026-01-01T00:00:00.000Z',
      acknowledged: false,
    });
    assert.equal(makeAlert('AbortThreshold', '', '').id, 'abort-threshold');
    assert.equal(makeAlert('PermissionsNotPropagated', '', '').id, 'permissions-not-propagated');
  });

  void it('names the missing actions and the roles', () => {
    const message = permissionsNotPropagatedMessage(
      { granted: false, missing: ['A/write', 'B/read'], rolesAssigned: ['Reader'], grantingRole: 'Writer' },
      1_800_000,
    );
    assert.match(message, /A\/write, B\/read/);
    assert.match(message, /Reader/);
    assert.match(message, /Writer/);
    assert.match(message, /1800 s/);
  });
});

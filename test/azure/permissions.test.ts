import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  actionMatches,
  customRolePermissions,
  evaluatePermissions,
  isActionGranted,
  requiredActions,
} from '../../src/azure/permissions';

void describe('actionMatches (Azure wildcard rules)', () => {
  void it('is case-insensitive', () => {
    assert.ok(
      actionMatches(
        'microsoft.devices/iothubs/SECURITYPOLICIES/read',
        'Microsoft.Devices/IotHubs/securityPolicies/read',
      ),
    );
  });
  void it('lets * match any run of characters, slashes included', () => {
    assert.ok(actionMatches('*', 'Microsoft.Devices/IotHubs/securityPolicies/write'));
    assert.ok(actionMatches('Microsoft.Devices/*', 'Microsoft.Devices/IotHubs/securityPolicies/write'));
    assert.ok(actionMatches('*/read', 'Microsoft.Devices/IotHubs/securityPolicies/read'));
    assert.ok(
      actionMatches(
        'Microsoft.Devices/*/securityPolicies/*',
        'Microsoft.Devices/IotHubs/securityPolicies/read',
      ),
    );
    assert.ok(!actionMatches('*/read', 'Microsoft.Devices/IotHubs/securityPolicies/write'));
    assert.ok(!actionMatches('Microsoft.Storage/*', 'Microsoft.Devices/IotHubs/securityPolicies/write'));
  });
  void it('treats regex characters literally', () => {
    assert.ok(!actionMatches('Microsoft.Devices/IotHubs/twins/read', 'MicrosoftXDevices/IotHubs/twins/read'));
    assert.ok(!actionMatches('Microsoft.Devices/IotHubs/twins/rea', 'Microsoft.Devices/IotHubs/twins/read'));
  });
});

void describe('evaluatePermissions', () => {
  const arm = requiredActions('arm');
  const twin = requiredActions('twin');

  void it('grants with a wildcard role', () => {
    assert.deepEqual(evaluatePermissions([{ actions: ['Microsoft.Devices/*'] }], arm), []);
    assert.deepEqual(evaluatePermissions([{ actions: ['*'] }], arm), []);
  });

  void it('lets a notAction take an action away again (within the same entry)', () => {
    const permissions = [
      { actions: ['Microsoft.Devices/*'], notActions: ['Microsoft.Devices/IotHubs/securityPolicies/write'] },
    ];
    assert.deepEqual(evaluatePermissions(permissions, arm), [
      'Microsoft.Devices/IotHubs/securityPolicies/write',
    ]);
  });

  void it("does not let one entry's notActions remove another entry's grant", () => {
    const permissions = [
      { actions: ['Microsoft.Devices/*'], notActions: ['Microsoft.Devices/IotHubs/securityPolicies/*'] },
      { actions: ['Microsoft.Devices/IotHubs/securityPolicies/*'] },
    ];
    assert.deepEqual(evaluatePermissions(permissions, arm), []);
  });

  void it('keeps actions and data actions apart', () => {
    assert.deepEqual(
      evaluatePermissions([{ actions: ['*'] }], twin),
      twin.dataActions,
      'actions * does not grant data actions',
    );
    assert.deepEqual(evaluatePermissions([{ dataActions: ['Microsoft.Devices/IotHubs/twins/*'] }], twin), []);
    assert.deepEqual(
      evaluatePermissions(
        [{ dataActions: ['Microsoft.Devices/IotHubs/*'], notDataActions: ['*/write'] }],
        twin,
      ),
      ['Microsoft.Devices/IotHubs/twins/write'],
    );
  });

  void it('reports everything missing with no permissions', () => {
    assert.deepEqual(evaluatePermissions([], arm), arm.actions);
  });

  void it('the custom role grants what each target needs', () => {
    for (const target of ['arm', 'twin'] as const) {
      assert.deepEqual(evaluatePermissions([customRolePermissions(target)], requiredActions(target)), []);
    }
    assert.ok(
      isActionGranted([customRolePermissions('arm')], 'Microsoft.Devices/IotHubs/securitySettings/write'),
    );
  });
});

/** What the role-propagation check found. Pure; sandbox-safe. */
export interface PermissionReport {
  granted: boolean;
  /** Actions (and data actions) the target needs that are not effective at hub scope. */
  missing: string[];
  /** Role names assigned to the principal at or above hub scope (empty when unknown). */
  rolesAssigned: string[];
  /** True when the principal may not list role assignments (no Microsoft.Authorization/roleAssignments/read). */
  rolesUnreadable?: boolean;
  /** The custom role that would grant what is missing. */
  grantingRole: string;
}

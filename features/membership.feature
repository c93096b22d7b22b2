@disruptive
Feature: Quick migration stays inside one failover cluster
  Source and target must be members of the same failover cluster. A move to a host outside the
  cluster is refused and changes nothing.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-11
  Scenario: A move to a host that is not a cluster member is refused and changes nothing
    Given a running VM on CSV storage
    And a Hyper-V host that is not a member of the cluster
    When the VM is quick-migrated to that host
    Then the move is refused because the cluster node was not found
    And the VM is still running on its original owner
    And the VM's registration, cluster resources and file paths are unchanged

@disruptive
Feature: Draining a node quick-migrates its low-priority VMs
  When a node is drained, VMs whose priority is below the cluster's MoveTypeThreshold are
  quick-migrated (they pass through Saved state); the others are live-migrated. The node ends
  Paused with no roles.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-18
  Scenario: Drain quick-migrates VMs below the move-type threshold and live-migrates the others
    Given a node that owns a running VM below the move-type threshold and one at or above it
    When that node is drained
    Then the drain completes
    And every VM below the move-type threshold passed through Saved state
    And every VM at or above the move-type threshold moved without being saved
    And the drained node is paused and owns no roles

@disruptive
Feature: Quick migration moves VMs that live migration cannot
  Quick migration often succeeds where other techniques fail, for example for a VM with a
  pass-through disk, provided the disk is a Physical Disk resource in the VM's cluster group.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-21
  Scenario: A VM with a pass-through disk is quick-migrated
    Given a running VM with a pass-through disk
    And the pass-through disk is a Physical Disk resource in the VM's cluster group
    When the VM is quick-migrated to another node
    Then the VM is running on the target node
    And the pass-through disk's resource is owned by the target node

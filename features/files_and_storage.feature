@disruptive
Feature: Only ownership changes hands: files stay where they are
  Quick migration moves no files. Storage shared by the cluster stays where it is; a Cluster Disk
  holding the VM changes owner with it; the target must reach the VM's storage.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-04
  Scenario Outline: Configuration, disk and state paths are unchanged by the move (<storage>)
    Given a running VM on <storage> storage
    When the VM is quick-migrated to another node
    Then the VM's configuration, snapshot, smart paging and virtual disk paths are unchanged

    Examples:
      | storage      |
      | CSV          |
      | Cluster Disk |
      | SMB 3        |

  @claim:QM-05
  Scenario: A Cluster Disk holding the VM moves to the target node
    Given a running VM on Cluster Disk storage
    When the VM is quick-migrated to another node
    Then the Cluster Disk holding the VM is owned by the target node
    And no Cluster Shared Volume changed owner because of the move

  @claim:QM-12
  Scenario Outline: The target node reaches the VM's storage (<storage>)
    Given a running VM on <storage> storage
    And a target node chosen for the VM
    Then the target node reaches the VM's storage
    And the target node is a possible owner of the VM's storage
    When the VM is quick-migrated to the chosen node
    Then the VM is running on the target node

    Examples:
      | storage      |
      | CSV          |
      | Cluster Disk |
      | SMB 3        |

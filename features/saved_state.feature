@disruptive
Feature: A running VM is saved to shared storage before it changes owner
  Quick migration puts a running virtual machine into Saved state, writes its memory and device
  state to disk on storage that every possible owner can reach, and only then hands the VM to the
  target node, where it is restored.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-01
  Scenario Outline: The VM passes through Saved state before its owner changes (<storage>)
    Given a running VM on <storage> storage
    When the VM is quick-migrated to another node
    Then the VM finished offline on its original owner before it came online on the target
    And the VM was Saving or Saved while its original owner still held it
    And the VM resource's offline action is Save
    And the VM is running on the target node

    Examples:
      | storage      |
      | CSV          |
      | Cluster Disk |
      | SMB 3        |

  @core @claim:QM-02
  Scenario Outline: Saved state is written to shared storage (<storage>, configuration version <version>)
    Given a running VM on <storage> storage with configuration version <version>
    When the VM is quick-migrated to another node
    Then saved-state files were observed while the VM was being saved
    And every saved-state file lies on storage the cluster reports as shared
    And no saved-state file lies on a node-local disk

    Examples:
      | storage      | version |
      | CSV          | 9.0     |
      | CSV          | 5.0     |
      | Cluster Disk | 9.0     |
      | SMB 3        | 9.0     |

  @claim:QM-10
  Scenario: The VM is unavailable for the whole save and restore window
    Given a running VM on CSV storage
    When the VM is quick-migrated to another node
    Then the VM's heartbeat was lost during the move
    And the measured unavailability window is reported

@disruptive
Feature: The VM's registration ends up on exactly one node
  After the save, the cluster copies the VM's registration to the target node and removes it from
  the source. Configuration version 5.0 VMs are registered by a symbolic link in the node's
  Hyper-V "Virtual Machines" folder under %ProgramData%; later versions by an entry of the node's
  Hyper-V "Virtual Machines Cache" folder (the host-wide data.vmcx says nothing about one VM).
  Either way, after the move exactly one node, the new owner, lists the VM in Get-VM.

  Background:
    Given the target cluster is reachable and healthy

  @core @claim:QM-03
  Scenario Outline: Registration moves from the source to the target (configuration version <version>)
    Given a running VM with configuration version <version>
    And the VM is registered on its owner node only
    When the VM is quick-migrated to another node
    Then the VM is registered on exactly one node, its new owner
    And the original owner no longer registers the VM
    And a version 5.0 VM's link on the new owner points at its configuration file

    Examples:
      | version |
      | 5.0     |
      | 9.0     |

  @claim:QM-22
  Scenario: Each node keeps its registrations under its own ProgramData folder
    Given a running VM with configuration version 5.0
    And a node whose ProgramData folder is not on drive C
    When the VM is quick-migrated to that node
    Then the VM's link on that node is in the Hyper-V folder under that node's own ProgramData
    And the VM is registered on exactly one node, its new owner

  @claim:QM-03
  Scenario Outline: Registration moves with a VM that is <state>
    Given a VM in state <state>
    And the VM is registered on its owner node only
    When the VM is quick-migrated to another node
    Then the VM is registered on exactly one node, its new owner
    And the original owner no longer registers the VM

    Examples:
      | state |
      | Off   |
      | Saved |

  @claim:QM-03
  Scenario: A VM moved away and back keeps what every quick migration must keep, on both legs
    Given a running VM on CSV storage
    When the VM is quick-migrated to another node and back
    Then both legs kept what every quick migration must keep

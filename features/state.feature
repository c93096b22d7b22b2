@disruptive
Feature: The VM comes back in the state it had, whatever that state was
  A running VM is resumed on the target without a reboot; a VM that was off stays off; a saved VM
  stays saved. Quick migration works in any state, and a VM that is off moves almost instantly
  because only its registration moves.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-06
  Scenario: A running VM resumes on the target without rebooting
    Given a running VM on CSV storage
    When the VM is quick-migrated to another node
    Then the VM is running on the target node
    And the guest did not reboot
    And the VM's uptime continued

  @claim:QM-06
  Scenario Outline: A VM that is <state> is still <state> after the move
    Given a VM in state <state>
    When the VM is quick-migrated to another node
    Then the VM is still in state <state>

    Examples:
      | state |
      | Off   |
      | Saved |

  @claim:QM-07
  Scenario Outline: A VM in state <state> can be quick-migrated and keeps its state
    Given a VM in state <state>
    When the VM is quick-migrated to another node
    Then the VM is owned by the target node
    And the VM is in state <state>

    Examples:
      | state   |
      | Running |
      | Off     |
      | Saved   |

  @claim:QM-08
  Scenario: A VM that is off moves almost instantly, whatever its memory size
    Given a VM in state Off
    When the VM is quick-migrated to another node
    Then the move took no longer than the bound for a VM that is off
    And the move time does not depend on the VM's memory size

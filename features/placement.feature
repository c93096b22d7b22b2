@disruptive
Feature: The cluster chooses the node, and several VMs can move at once
  Without a destination the cluster picks the Best Possible Node. Several VMs can be
  quick-migrated in one request; each behaves as if moved alone.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-16
  Scenario Outline: With no node given, the VM goes to the Best Possible Node (<owners>)
    Given a running VM <owners>
    When the VM is quick-migrated without naming a node
    Then the VM is running on a node that is up, a possible owner and not its original owner
    And the cluster honoured the VM's preferred owners

    Examples:
      | owners                      |
      | that has preferred owners   |
      | without preferred owners    |

  @claim:QM-17
  Scenario: Several VMs are quick-migrated in one request
    Given 2 running VMs on the same node
    When those VMs are quick-migrated to another node in one request
    Then every one of those VMs is running on the target node
    And every one of those VMs is registered on exactly one node, its new owner
    And every one of those VMs passed through Saved state
    And every one of those VMs kept what every quick migration must keep

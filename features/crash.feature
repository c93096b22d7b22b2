@disruptive @destructive @lab-only
Feature: A host crash behaves like a power loss for its VMs
  If a host fails without saving its VMs, the cluster fails them over and they start cold on
  another node, as though they had lost power. Only the lab, or a cluster whose inventory
  explicitly allows destructive scenarios, runs this.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-19
  Scenario: After a host crash its running VM boots cold on another node
    Given a running VM on CSV storage on the node with the fewest clustered roles
    When the VM's owner node crashes
    Then the VM is running on another node within the failover time
    And the guest booted again after the crash
    And no saved state was used to start the VM

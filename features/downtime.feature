@disruptive
Feature: Downtime depends on memory size and disk speed, not on the network
  For a running VM the move takes as long as writing its memory to disk on the source and reading
  it back on the target. Only the registration crosses the network between the nodes.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-09
  Scenario: Downtime grows with memory size and stays within the storage's throughput
    Given running VMs of at least three different memory sizes on shared storage
    When each of those VMs is quick-migrated to another node in turn
    Then each VM's downtime is measured from the cluster's own event timestamps
    And each VM's downtime is within the bound for its memory size and storage throughput
    And downtime grows linearly with memory size
    And the bytes sent between the nodes during each move are a small fraction of the VM's memory

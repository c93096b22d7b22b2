@disruptive
Feature: The VM's cluster resource keeps its identity
  The cluster permanently assigns a resource to each virtual machine and the nodes refer to the
  VM by it. Its GUID, name and type do not change when the VM moves, and HKLM\Cluster\Resources
  reads the same on every node. The audit only reads this key.

  Background:
    Given the target cluster is reachable and healthy

  @core @claim:QM-13
  Scenario: Resource GUID, name, type and registry view survive a quick migration
    Given a running VM on CSV storage
    And every node reads the same registry entries for the VM's cluster resources
    When the VM is quick-migrated to another node
    Then the VM's cluster resources have the same GUIDs, names and types as before
    And every node reads the same registry entries for the VM's cluster resources
    And the registry entries name the VM's VMId

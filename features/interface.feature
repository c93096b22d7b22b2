@disruptive
Feature: The PowerShell interface returns at once and must be polled
  Move-ClusterVirtualMachineRole -MigrationType Quick -Wait 0 returns without waiting, with the
  VM's group Pending; completion must be polled. Move-ClusterGroup with the VM resource's offline
  action Save is the documented alternative path.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-20
  Scenario Outline: <command> with -Wait 0 returns at once and completes when polled
    Given a running VM on CSV storage
    When the VM is moved to another node with <command> without waiting
    Then the command returned while the VM's group was still pending
    And polling shows the VM running on the target node

    Examples:
      | command                        |
      | Move-ClusterVirtualMachineRole |
      | Move-ClusterGroup              |

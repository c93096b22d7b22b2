@disruptive
Feature: The guest does not notice the move, except for its clock and the KVP host name
  The guest keeps its identity and keeps running; only the Data Exchange (KVP) values show the new
  host. Its clock stops while the VM is saved: with Time Synchronization enabled and working it is
  corrected shortly after resume, otherwise it lags by about the time the VM spent saved.

  Background:
    Given the target cluster is reachable and healthy

  @claim:QM-14 @own-move
  Scenario: The guest keeps its identity; only the KVP host name changes
    Given a running VM on CSV storage
    When the VM is quick-migrated to another node
    Then the VM has the same VMId and MAC addresses as before
    And the guest did not reboot
    And the guest's KVP host name shows the target node within the allowed time

  @core @claim:QM-15 @own-move
  Scenario: Without time synchronization the guest clock lags by the time spent saved
    Given a running VM whose Time Synchronization service is disabled
    And the guest clock's offset from the host clock is recorded
    When the VM is quick-migrated to another node
    Then the guest clock lags the host clock by about the measured downtime
    And the lag is still there after the time-sync window has passed

  @core @claim:QM-15 @own-move
  Scenario: With working time synchronization the guest clock is corrected after resume
    Given a running VM whose Time Synchronization service is enabled and working
    And the guest clock's offset from the host clock is recorded
    When the VM is quick-migrated to another node
    Then the guest clock agrees with the host clock within the time-sync window

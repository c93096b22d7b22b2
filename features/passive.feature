@passive
Feature: Passive audit: the cluster as found and the moves it already made
  A passive audit (qmaudit run --passive) moves nothing: it reads every VM in scope as the cluster
  stands (static invariants) and judges the moves the cluster already made from its own event
  logs (history). A claim only a move can prove stays NOT JUDGED; a contradiction fails only when
  both facts were read together.

  @static @claim:QM-01
  Scenario: Every VM resource saves its VM when it is taken offline (OfflineAction)
    Given the cluster as found, read only
    Then the static check "offline action" holds for every VM in scope

  @static @claim:QM-02
  Scenario: Configuration, saved-state and smart-paging paths lie on storage the cluster shares
    Given the cluster as found, read only
    Then the static check "state paths" holds for every VM in scope

  @static @claim:QM-03
  Scenario: Every VM is registered on exactly one node, its owner
    Given the cluster as found, read only
    Then the static check "single registration" holds for every VM in scope

  @static @claim:QM-12
  Scenario: Every possible owner is Up and reaches the VM's storage
    Given the cluster as found, read only
    Then the static check "owners reach storage" holds for every VM in scope

  @static @claim:QM-13
  Scenario: Every node's registry view of the VM's resources matches the cluster
    Given the cluster as found, read only
    Then the static check "registry view" holds for every VM in scope

  @static @claim:QM-15
  Scenario: Integration services and time synchronization as configured
    Given the cluster as found, read only
    Then the static check "time sync" holds for every VM in scope

  @static @claim:QM-16
  Scenario: Preferred and possible owners leave the cluster a node to pick
    Given the cluster as found, read only
    Then the static check "owners" holds for every VM in scope

  @static @claim:QM-18
  Scenario: Priorities against the move-type threshold decide what a drain quick-migrates
    Given the cluster as found, read only
    Then the static check "priorities" holds for every VM in scope

  @static @claim:QM-22
  Scenario: Each node keeps its registration links under its own ProgramData
    Given the cluster as found, read only
    Then the static check "link roots" holds for every VM in scope

  @history @claim:QM-01
  Scenario: Past quick migrations went offline on the source before coming online on the target
    Given the moves the cluster made in the audit window, from its event logs
    Then every past quick migration went offline on its source before its target brought it online

  @history @claim:QM-10
  Scenario: Past quick migrations left their role offline for a measurable window
    Given the moves the cluster made in the audit window, from its event logs
    Then every past quick migration shows its downtime, and the outliers are listed

  @history @claim:QM-18
  Scenario: Moves made by drains, from history
    Given the moves the cluster made in the audit window, from its event logs
    Then the moves made by drains are listed

  @history @claim:QM-19
  Scenario: Failovers after a node left the cluster, from history
    Given the moves the cluster made in the audit window, from its event logs
    Then the failovers after a node left the cluster are listed

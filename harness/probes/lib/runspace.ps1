# qmaudit runspace set-up: the first pipeline in each node's PowerShell runspace (PSRP), run once.
# Later probes run in the same runspace: these preferences and modules stay loaded for them.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Import-Module -Name FailoverClusters -ErrorAction SilentlyContinue
Import-Module -Name Hyper-V -ErrorAction SilentlyContinue

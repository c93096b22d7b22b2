# qmaudit-probe: drain_node
# qmaudit-kind: action
# Drains a node (QM-18): Suspend-ClusterNode -Drain returns at once (-Wait:$false; the -Wait switch
# exists from Windows Server 2016 on). The cluster then quick-migrates roles whose priority is below
# the Virtual Machine resource type's MoveTypeThreshold and live-migrates the rest; poll with
# cluster_inventory. Cluster errors are rethrown with their Win32 code.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$nodeName = [string]$Params.node
if ([string]::IsNullOrEmpty($nodeName)) { throw 'qmaudit: drain_node needs the parameter node' }

Import-QmModule 'FailoverClusters'

try {
    $target = Suspend-ClusterNode -Name $nodeName -Drain -Wait:$false
} catch {
    $failure = $_
    throw ("qmaudit: draining '{0}' failed: {1} (Win32 error {2})" -f $nodeName, (Get-QmFailureText $failure), (Get-QmWin32Code $failure))
}

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    target   = [ordered]@{
        name         = [string]$target.Name
        state        = [string]$target.State
        drain_status = [string]$target.DrainStatus
    }
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

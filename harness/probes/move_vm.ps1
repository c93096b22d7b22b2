# qmaudit-probe: move_vm
# qmaudit-kind: action
# Requests a quick migration of each named VM role and returns at once (QM-16, QM-17, QM-20):
#   method 'vm_role':       Move-ClusterVirtualMachineRole -Name <vm> -MigrationType Quick -Wait 0
#                           with -Node only when a node is given (else the cluster picks the best
#                           possible node);
#   method 'cluster_group': Move-ClusterGroup -Name <vm> -Wait 0 (-Node likewise), Microsoft's other
#                           documented path. It quick-migrates only when the VM resource's
#                           OfflineAction is 1 (Save, the default), so this probe checks that and
#                           refuses otherwise; it never changes the setting.
# Each returned group (state Pending while the move runs) is reported as returned. Cluster errors
# are rethrown with their Win32 code, e.g. "... The cluster node was not found (Win32 error 5042)".
# Run it on a cluster node: the cmdlets need CredSSP when aimed at a remote cluster.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$names = @(foreach ($n in $Params.vm_names) { if (-not [string]::IsNullOrEmpty([string]$n)) { [string]$n } })
if ($names.Count -eq 0) { throw 'qmaudit: move_vm needs the parameter vm_names (a non-empty list)' }
$method = [string]$Params.method
if (@('vm_role', 'cluster_group') -notcontains $method) {
    throw "qmaudit: move_vm parameter method must be 'vm_role' or 'cluster_group', got '$method'"
}
$targetNode = $null
if (-not [string]::IsNullOrEmpty([string]$Params.node)) { $targetNode = [string]$Params.node }

Import-QmModule 'FailoverClusters'

if ($method -eq 'cluster_group') {
    # Checked for every VM before the first request, so a refusal leaves nothing half-moved.
    foreach ($name in $names) {
        $resource = @(Get-ClusterGroup -Name $name | Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' })
        if ($resource.Count -eq 0) { throw "qmaudit: clustered role '$name' has no Virtual Machine resource" }
        $offline = @($resource[0] | Get-ClusterParameter | Where-Object { $_.Name -eq 'OfflineAction' })
        if ($offline.Count -eq 0 -or [int]$offline[0].Value -ne 1) {
            $value = 'missing'
            if ($offline.Count -gt 0) { $value = [string]$offline[0].Value }
            throw "qmaudit: VM resource '$($resource[0].Name)' has OfflineAction $value, not 1 (Save): Move-ClusterGroup would not quick-migrate it, and qmaudit does not change it"
        }
    }
}

# Stamped before the first request: the cluster's events of this move (the save begins on the
# source) are all after it, while host_utc, stamped when the cmdlets returned, may be later.
$requestedUtc = ConvertTo-QmUtc ([DateTime]::UtcNow)
$requested = [System.Collections.Generic.List[object]]::new()
foreach ($name in $names) {
    $arguments = @{ Name = $name; Wait = 0 }
    if ($null -ne $targetNode) { $arguments.Node = $targetNode }
    try {
        if ($method -eq 'vm_role') {
            $group = Move-ClusterVirtualMachineRole @arguments -MigrationType Quick
        } else {
            $group = Move-ClusterGroup @arguments
        }
    } catch {
        # Kept first: the ForEach-Object below rebinds $_.
        $failure = $_
        $done = ''
        if ($requested.Count -gt 0) { $done = ' (already requested: ' + (@($requested | ForEach-Object { $_.vm }) -join ', ') + ')' }
        throw ("qmaudit: moving '{0}' failed: {1} (Win32 error {2}){3}" -f $name, (Get-QmFailureText $failure), (Get-QmWin32Code $failure), $done)
    }
    $requested.Add([ordered]@{
        vm         = $name
        group      = [string]$group.Name
        owner_node = [string]$group.OwnerNode.Name
        state      = [string]$group.State
    })
}

$doc = [ordered]@{
    node          = [string]$env:COMPUTERNAME
    host_utc      = $null
    requested_utc = $requestedUtc
    requested     = $requested.ToArray()
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

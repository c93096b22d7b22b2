# qmaudit-probe: move_status
# qmaudit-kind: read
# Polls VM roles after a move request (QM-20): group state and owner, the Virtual Machine
# resource's state, and the VM's Hyper-V state when this node hosts it (null otherwise: Hyper-V
# answers only for local VMs, so ask the owner for the VM state). Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$names = @(foreach ($n in $Params.vm_names) { if (-not [string]::IsNullOrEmpty([string]$n)) { [string]$n } })
if ($names.Count -eq 0) { throw 'qmaudit: move_status needs the parameter vm_names (a non-empty list)' }

Import-QmModule 'FailoverClusters'
$hasHyperV = [bool](Get-Module -ListAvailable -Name Hyper-V)
$localVms = @()
if ($hasHyperV) {
    Import-Module -Name Hyper-V
    $localVms = @(Get-VM)
}

# Exact, case-insensitive name match: Get-ClusterGroup -Name would fail the whole poll for one
# missing role, and the caller needs to know which one.
$groups = @(Get-ClusterGroup)
$vms = @(foreach ($name in $names) {
    $group = @($groups | Where-Object { [string]$_.Name -eq $name })
    if ($group.Count -eq 0) { throw "qmaudit: no clustered role named '$name' in this cluster" }
    $g = $group[0]
    $resource = @($g | Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' })
    if ($resource.Count -eq 0) { throw "qmaudit: clustered role '$name' has no Virtual Machine resource" }
    $vmIdParameter = @($resource[0] | Get-ClusterParameter | Where-Object { $_.Name -eq 'VmID' })
    $vmId = $null
    if ($vmIdParameter.Count -gt 0) { $vmId = ConvertTo-QmGuid $vmIdParameter[0].Value }
    $vmState = $null
    $local = @($localVms | Where-Object { $_.Id.ToString() -eq $vmId })
    if ($null -ne $vmId -and $local.Count -gt 0) { $vmState = [string]$local[0].State }
    [ordered]@{
        vm             = $name
        group_state    = [string]$g.State
        owner_node     = [string]$g.OwnerNode.Name
        vm_state       = $vmState
        resource_state = [string]$resource[0].State
    }
})

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    vms      = $vms
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

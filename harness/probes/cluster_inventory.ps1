# qmaudit-probe: cluster_inventory
# qmaudit-kind: read
# The cluster as the cluster service sees it: nodes, CSVs, cluster disks with their owners and
# mount points, VM roles with their VmID, priority and owners, and the Virtual Machine resource
# type's MoveTypeThreshold (QM-02, QM-05, QM-12, QM-16, QM-18). Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# Names of cluster objects; foreach over $null runs zero times, so a missing list gives nothing.
function Get-QmNames($Items) {
    foreach ($item in $Items) {
        if ($null -ne $item) { [string]$item.Name }
    }
}

function Get-QmParameterValue($Object, [string] $Name) {
    $found = @($Object | Get-ClusterParameter | Where-Object { $_.Name -eq $Name })
    if ($found.Count -eq 0) { return $null }
    return $found[0].Value
}

Import-QmModule 'FailoverClusters'

$cluster = Get-Cluster
$vmType = Get-ClusterResourceType -Name 'Virtual Machine'
$threshold = Get-QmParameterValue $vmType 'MoveTypeThreshold'
if ($null -eq $threshold) {
    throw "qmaudit: the 'Virtual Machine' resource type of cluster '$($cluster.Name)' has no MoveTypeThreshold parameter"
}

# The cluster's own timers, which size the audit's settle window (docs/observables.md).
$timers = [ordered]@{
    same_subnet_delay_ms   = [int]$cluster.SameSubnetDelay
    same_subnet_threshold  = [int]$cluster.SameSubnetThreshold
    cross_subnet_delay_ms  = [int]$cluster.CrossSubnetDelay
    cross_subnet_threshold = [int]$cluster.CrossSubnetThreshold
    vm_looks_alive_ms      = [int]$vmType.LooksAlivePollInterval
}

$nodes = @(foreach ($n in @(Get-ClusterNode)) {
    [ordered]@{
        name         = [string]$n.Name
        id           = [string]$n.Id
        state        = [string]$n.State
        drain_status = [string]$n.DrainStatus
    }
})

$csvIds = @{}
$csvs = @(foreach ($c in @(Get-ClusterSharedVolume)) {
    $csvIds[[string]$c.Id] = $true
    # A CSV normally carries one partition; its FriendlyVolumeName is C:\ClusterStorage\<name>.
    $info = @($c.SharedVolumeInfo)
    $friendly = $null
    if ($info.Count -gt 0) { $friendly = [string]$info[0].FriendlyVolumeName }
    # Redirected I/O (file system or block; ReFS CSVs are always file-system redirected) sends
    # a node's reads and writes over the cluster networks to the coordinator.
    $redirected = $null
    try {
        $volumeStates = @(Get-ClusterSharedVolumeState -Name $c.Name)
        $redirected = @($volumeStates | Where-Object { [string]$_.StateInfo -ne 'Direct' }).Count -gt 0
    } catch {
        $redirected = $null
    }
    [ordered]@{
        name                 = [string]$c.Name
        id                   = ConvertTo-QmGuid $c.Id
        friendly_volume_name = $friendly
        owner_node           = [string]$c.OwnerNode.Name
        state                = [string]$c.State
        redirected           = $redirected
    }
})

# Physical Disk resources outside CSV. Mount points come from the cluster's own WMI provider
# (MSCluster_Disk -> MSCluster_DiskPartition), which answers for disks owned by any node.
$diskResources = @(Get-ClusterResource | Where-Object {
        $_.ResourceType.Name -eq 'Physical Disk' -and -not $csvIds.ContainsKey([string]$_.Id)
    })
$clusterDisks = @(foreach ($r in $diskResources) {
    $cim = @(Get-CimInstance -Namespace 'root/MSCluster' -ClassName 'MSCluster_Resource' -Filter ("Id = '{0}'" -f [string]$r.Id))
    $mounts = @(foreach ($res in $cim) {
        foreach ($disk in @(Get-CimAssociatedInstance -InputObject $res -ResultClassName 'MSCluster_Disk')) {
            foreach ($part in @(Get-CimAssociatedInstance -InputObject $disk -ResultClassName 'MSCluster_DiskPartition')) {
                $points = @(foreach ($m in $part.MountPoints) { if ($m) { [string]$m } })
                if ($points.Count -gt 0) { $points } elseif ($part.Path) { [string]$part.Path }
            }
        }
    })
    [ordered]@{
        name            = [string]$r.Name
        id              = ConvertTo-QmGuid $r.Id
        owner_node      = [string]$r.OwnerNode.Name
        owner_group     = [string]$r.OwnerGroup.Name
        possible_owners = @(Get-QmNames ($r | Get-ClusterOwnerNode).OwnerNodes)
        state           = [string]$r.State
        mount_points    = $mounts
    }
})

$vmGroups = @(foreach ($g in @(Get-ClusterGroup | Where-Object { [string]$_.GroupType -eq 'VirtualMachine' })) {
    $vmResource = @($g | Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' })
    # A VM role without its Virtual Machine resource is not a VM the audit can address.
    if ($vmResource.Count -eq 0) { continue }
    $res = $vmResource[0]
    # The resource is named 'Virtual Machine <VM name>' when the role is made from a VM.
    $vmName = [string]$g.Name
    if ([string]$res.Name -like 'Virtual Machine *') { $vmName = ([string]$res.Name).Substring(16) }
    [ordered]@{
        name             = [string]$g.Name
        vm_name          = $vmName
        vm_id            = ConvertTo-QmGuid (Get-QmParameterValue $res 'VmID')
        owner_node       = [string]$g.OwnerNode.Name
        state            = [string]$g.State
        priority         = [int]$g.Priority
        preferred_owners = @(Get-QmNames ($g | Get-ClusterOwnerNode).OwnerNodes)
        possible_owners  = @(Get-QmNames ($res | Get-ClusterOwnerNode).OwnerNodes)
    }
})

# Every other group (cluster core group, Available Storage, other roles): what a move must not touch.
$otherGroups = @(foreach ($g in @(Get-ClusterGroup | Where-Object { [string]$_.GroupType -ne 'VirtualMachine' })) {
    [ordered]@{ name = [string]$g.Name; owner_node = [string]$g.OwnerNode.Name; state = [string]$g.State }
})

$doc = [ordered]@{
    node           = [string]$env:COMPUTERNAME
    host_utc       = $null
    cluster        = [ordered]@{ name = [string]$cluster.Name; move_type_threshold = [int]$threshold; timers = $timers }
    nodes          = $nodes
    csvs           = $csvs
    cluster_disks  = $clusterDisks
    vm_groups      = $vmGroups
    other_groups   = $otherGroups
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

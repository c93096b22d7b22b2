# qmaudit-probe: network_counters
# qmaudit-kind: read
# Byte counters of this node's adapters on cluster networks (QM-09: a quick migration sends only
# metadata between nodes). Networks whose cluster role is None (storage-only, e.g. iSCSI) are left
# out: their traffic is disk I/O, which a quick migration is expected to cause. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

Import-QmModule 'FailoverClusters'

$clusterNetworks = @{}
foreach ($net in @(Get-ClusterNetwork)) {
    if ([string]$net.Role -ne 'None') { $clusterNetworks[[string]$net.Name] = $true }
}

# Cluster network interfaces name the adapter by its interface GUID (AdapterId).
$adapterIds = @{}
foreach ($nic in @(Get-ClusterNetworkInterface -Node $env:COMPUTERNAME)) {
    if ($clusterNetworks.ContainsKey([string]$nic.Network.Name)) {
        $guid = ConvertTo-QmGuid $nic.AdapterId
        if ($null -ne $guid) { $adapterIds[$guid] = $true }
    }
}

# Statistics are matched by exact name rather than queried with -Name, which takes wildcards.
$statistics = @{}
foreach ($s in @(Get-NetAdapterStatistics)) { $statistics[[string]$s.Name] = $s }

$adapters = @(foreach ($a in @(Get-NetAdapter | Sort-Object -Property Name)) {
    if (-not $adapterIds.ContainsKey([string](ConvertTo-QmGuid $a.InterfaceGuid))) { continue }
    if (-not $statistics.ContainsKey([string]$a.Name)) {
        throw "qmaudit: no statistics for cluster network adapter '$($a.Name)' on $($env:COMPUTERNAME)"
    }
    $stats = $statistics[[string]$a.Name]
    [ordered]@{
        name           = [string]$a.Name
        sent_bytes     = [int64]$stats.SentBytes
        received_bytes = [int64]$stats.ReceivedBytes
    }
})

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    adapters = $adapters
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

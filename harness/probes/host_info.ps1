# qmaudit-probe: host_info
# qmaudit-kind: read
# Facts about the answering host: OS build, its own %ProgramData% root (QM-22), which modules are
# installed, the cluster it belongs to (null when it is not a cluster member) and PowerShell version.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$os = Get-CimInstance -ClassName Win32_OperatingSystem
$hasClusters = [bool](Get-Module -ListAvailable -Name FailoverClusters)
$hasHyperV = [bool](Get-Module -ListAvailable -Name Hyper-V)

# Get-Cluster fails on a host that is not a member; ask the cluster service first so that a real
# failure on a member node is reported instead of being mistaken for "no cluster".
$clusterName = $null
$clusSvc = @(Get-Service | Where-Object { $_.Name -eq 'ClusSvc' })
if ($hasClusters -and $clusSvc.Count -eq 1 -and [string]$clusSvc[0].Status -eq 'Running') {
    Import-Module -Name FailoverClusters
    $clusterName = [string](Get-Cluster).Name
}

$doc = [ordered]@{
    node               = [string]$env:COMPUTERNAME
    host_utc           = $null
    os_build           = [string]$os.BuildNumber
    os_caption         = [string]$os.Caption
    program_data       = [string]$env:ProgramData
    modules            = [ordered]@{ failover_clusters = $hasClusters; hyper_v = $hasHyperV }
    cluster_name       = $clusterName
    powershell_version = [string]$PSVersionTable.PSVersion
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

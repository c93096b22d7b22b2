# qmaudit-probe: capture_vm_events
# qmaudit-kind: read
# Recent events of the named VMs on this node (capture): every event since since_utc in the
# FailoverClustering, System, Hyper-V-Worker and Hyper-V-VMMS logs whose message or properties
# name one of the VMs or carry one of their VMIds, with its log, provider, id, level and
# properties in order. A log this node does not have is reported, not thrown. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$since = ConvertFrom-QmSince $Params.since_utc 'capture_vm_events'
$needles = @(foreach ($name in $Params.vm_names) { [string]$name })
$needles += @(foreach ($id in $Params.vm_ids) { $guid = ConvertTo-QmGuid $id; if ($null -ne $guid) { $guid } })

$logNames = @(
    'Microsoft-Windows-FailoverClustering/Operational',
    'System',
    'Microsoft-Windows-Hyper-V-Worker-Admin',
    'Microsoft-Windows-Hyper-V-VMMS-Admin'
)
$logs = @()
$found = @()
foreach ($logName in $logNames) {
    $entry = [ordered]@{ name = $logName; found = $true; error = $null }
    try {
        $found += @(Get-WinEvent -FilterHashtable @{ LogName = $logName; StartTime = $since.ToLocalTime() } -MaxEvents 5000)
    } catch {
        # Get-WinEvent reports an empty result as an error; that case only means "none".
        if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') {
            $entry.found = $false
            $entry.error = Get-QmFailureText $_
        }
    }
    $logs += $entry
}

$events = @(foreach ($e in @($found | Sort-Object -Property @('TimeCreated', 'RecordId'))) {
    $properties = @(foreach ($p in $e.Properties) { [string]$p.Value })
    $text = ([string]$e.Message) + "`n" + ($properties -join "`n")
    $hit = $false
    foreach ($needle in $needles) {
        if ($needle -and $text.IndexOf($needle, [StringComparison]::OrdinalIgnoreCase) -ge 0) { $hit = $true; break }
    }
    if (-not $hit) { continue }
    [ordered]@{
        log        = [string]$e.LogName
        provider   = [string]$e.ProviderName
        id         = [int]$e.Id
        level      = [string]$e.LevelDisplayName
        record_id  = [long]$e.RecordId
        time_utc   = ConvertTo-QmUtc $e.TimeCreated
        message    = [string]$e.Message
        properties = $properties
    }
})

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    logs     = $logs
    events   = $events
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

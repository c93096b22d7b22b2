# qmaudit-probe: cluster_events
# qmaudit-kind: read
# Events logged on this node since since_utc with one of the requested ids, oldest first: the
# FailoverClustering provider in the System log (1641 role moving, 1200/1201 online, 1203/1204
# offline, ...) and the Hyper-V-Worker and Hyper-V-VMMS Admin logs (QM-01, QM-09). Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# PowerShell 7's ConvertFrom-Json already turns ISO strings into DateTime; 5.1 leaves a string.
$sinceValue = $Params.since_utc
if ($sinceValue -is [datetime]) {
    $since = $sinceValue.ToUniversalTime()
} else {
    $since = [DateTime]::MinValue
    $styles = [Globalization.DateTimeStyles]::AdjustToUniversal -bor [Globalization.DateTimeStyles]::AssumeUniversal
    if (-not [DateTime]::TryParse([string]$sinceValue, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$since)) {
        throw "qmaudit: cluster_events needs the parameter since_utc as an ISO 8601 UTC time, got '$sinceValue'"
    }
}
$ids = @(foreach ($id in $Params.ids) { [int]$id })
if ($ids.Count -eq 0) { throw 'qmaudit: cluster_events needs the parameter ids (a non-empty list of event ids)' }

$queries = @(
    @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-FailoverClustering'; Id = $ids; StartTime = $since.ToLocalTime() },
    @{ LogName = 'Microsoft-Windows-Hyper-V-Worker-Admin'; Id = $ids; StartTime = $since.ToLocalTime() },
    @{ LogName = 'Microsoft-Windows-Hyper-V-VMMS-Admin'; Id = $ids; StartTime = $since.ToLocalTime() }
)

$found = @(foreach ($filter in $queries) {
    try {
        Get-WinEvent -FilterHashtable $filter
    } catch {
        # Get-WinEvent reports an empty result as an error; only that case means "none".
        if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
    }
})

$events = @(foreach ($e in @($found | Sort-Object -Property @('TimeCreated', 'RecordId'))) {
    [ordered]@{
        provider   = [string]$e.ProviderName
        id         = [int]$e.Id
        time_utc   = ConvertTo-QmUtc $e.TimeCreated
        message    = [string]$e.Message
        properties = @(foreach ($p in $e.Properties) { [string]$p.Value })
    }
})

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    events   = $events
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

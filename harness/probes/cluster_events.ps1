# qmaudit-probe: cluster_events
# qmaudit-kind: read
# Events logged on this node since since_utc, oldest first. The caller names each log to read
# with its provider and ids (queries: [{log, provider, ids}]); the channels come from the audit's
# event vocabulary (harness/audit/events.py): FailoverClustering/Operational for the informational
# role events (1641 moving, 1200/1201 online, 1203/1204 offline), System for the cluster's errors.
# Every event carries the log it was read from. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$since = ConvertFrom-QmSince $Params.since_utc 'cluster_events'
$queries = @($Params.queries)
if ($queries.Count -eq 0 -or $null -eq $queries[0]) {
    throw 'qmaudit: cluster_events needs the parameter queries (a non-empty list of {log, provider, ids})'
}

$found = @(foreach ($query in $queries) {
    $ids = @(foreach ($id in $query.ids) { [int]$id })
    if ([string]::IsNullOrEmpty([string]$query.log) -or $ids.Count -eq 0) {
        throw 'qmaudit: cluster_events: every query needs a log and a non-empty list of ids'
    }
    $filter = @{ LogName = [string]$query.log; Id = $ids; StartTime = $since.ToLocalTime() }
    if (-not [string]::IsNullOrEmpty([string]$query.provider)) { $filter.ProviderName = [string]$query.provider }
    try {
        Get-WinEvent -FilterHashtable $filter
    } catch {
        # Get-WinEvent reports an empty result as an error; only that case means "none". A log
        # that does not exist on this node (NoMatchingLogsFound) is a real failure.
        if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
    }
})

$events = @(foreach ($e in @($found | Sort-Object -Property @('TimeCreated', 'RecordId'))) {
    [ordered]@{
        log        = [string]$e.LogName
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

# qmaudit-probe: capture_event_providers
# qmaudit-kind: read
# The event manifests of the named providers as this node's Windows build defines them (capture):
# every event's id, version, level, channel (LogLink.LogName) and message template, from
# (Get-WinEvent -ListProvider <name>).Events. A provider this node does not know is reported
# with its error, not thrown. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$names = @(foreach ($name in $Params.providers) { [string]$name })
if ($names.Count -eq 0) { throw 'qmaudit: capture_event_providers needs the parameter providers (a non-empty list of names)' }

$providers = @(foreach ($name in $names) {
    $entry = [ordered]@{ name = $name; found = $false; error = $null; events = @() }
    try {
        $metadata = Get-WinEvent -ListProvider $name
        $entry.found = $true
        $entry.events = @(foreach ($e in @($metadata.Events)) {
            $channel = $null
            if ($null -ne $e.LogLink) { $channel = [string]$e.LogLink.LogName }
            $level = $null
            if ($null -ne $e.Level) { $level = [string]$e.Level.DisplayName }
            [ordered]@{
                id          = [int]$e.Id
                version     = [int]$e.Version
                level       = $level
                channel     = $channel
                description = [string]$e.Description
                template    = [string]$e.Template
            }
        })
    } catch {
        $entry.error = Get-QmFailureText $_
    }
    $entry
})

$doc = [ordered]@{
    node      = [string]$env:COMPUTERNAME
    host_utc  = $null
    providers = $providers
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

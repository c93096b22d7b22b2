# qmaudit-probe: capture_vm_properties
# qmaudit-kind: read
# Every property of Get-VM for the given VMIds as this node's Hyper-V reports it (capture):
# name, .NET type and value as text (collections as their item count). A VM this node does not
# know is reported with found = false. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$ids = @(foreach ($id in $Params.vm_ids) { $guid = ConvertTo-QmGuid $id; if ($null -ne $guid) { $guid } })
Import-QmModule 'Hyper-V'

$local = @(Get-VM)
$vms = @(foreach ($id in $ids) {
    $entry = [ordered]@{ vm_id = $id; found = $false; properties = @() }
    $match = @($local | Where-Object { $_.Id.ToString() -eq $id })
    if ($match.Count -gt 0) {
        $entry.found = $true
        $entry.properties = @(foreach ($property in $match[0].PSObject.Properties) {
            $raw = $null
            try { $raw = $property.Value } catch { $raw = $null }
            $text = $null
            if ($null -ne $raw) {
                if ($raw -is [string] -or $raw -is [ValueType] -or $raw -is [guid]) {
                    if ($raw -is [datetime]) { $text = ConvertTo-QmUtc $raw } else { $text = [string]$raw }
                } elseif ($raw -is [Collections.ICollection]) {
                    $text = 'count=' + [string]$raw.Count
                } else {
                    $text = [string]$raw
                }
            }
            [ordered]@{ name = [string]$property.Name; type = [string]$property.TypeNameOfValue; value = $text }
        })
    }
    $entry
})

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    vms      = $vms
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

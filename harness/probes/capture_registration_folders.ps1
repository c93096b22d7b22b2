# qmaudit-probe: capture_registration_folders
# qmaudit-kind: read
# Hyper-V's registration folders under this node's own %ProgramData% (capture): the Hyper-V
# folder itself (data.vmcx and friends), 'Virtual Machines' and 'Virtual Machines Cache'. In the
# two per-VM folders only entries named after one of the given VMIds are listed; the others are
# counted. Each entry: name, directory or file, size, link type and target, last write. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$ids = @(foreach ($id in $Params.vm_ids) { $guid = ConvertTo-QmGuid $id; if ($null -ne $guid) { $guid } })
$programData = [string]$env:ProgramData
$root = Join-Path -Path $programData -ChildPath 'Microsoft\Windows\Hyper-V'

$folders = @(foreach ($spec in @(@($root, $false), @((Join-Path -Path $root -ChildPath 'Virtual Machines'), $true), @((Join-Path -Path $root -ChildPath 'Virtual Machines Cache'), $true))) {
    $path = [string]$spec[0]
    $filtered = [bool]$spec[1]
    $entry = [ordered]@{ path = $path; exists = $false; entries = @(); other_entries = 0 }
    if (Test-Path -LiteralPath $path -PathType Container) {
        $entry.exists = $true
        $others = 0
        $entry.entries = @(foreach ($item in @(Get-ChildItem -LiteralPath $path -Force)) {
            if ($filtered) {
                $wanted = $false
                foreach ($id in $ids) { if ($item.Name.StartsWith($id, [StringComparison]::OrdinalIgnoreCase)) { $wanted = $true } }
                if (-not $wanted) { $others++; continue }
            }
            $target = $null
            $targets = @(foreach ($t in $item.Target) { if ($t) { [string]$t } })
            if ($targets.Count -gt 0) { $target = $targets[0] }
            $linkType = $null
            if ($item.LinkType) { $linkType = [string]$item.LinkType }
            $bytes = $null
            if (-not $item.PSIsContainer) { $bytes = [long]$item.Length }
            [ordered]@{
                name           = [string]$item.Name
                is_directory   = [bool]$item.PSIsContainer
                bytes          = $bytes
                link_type      = $linkType
                target         = $target
                last_write_utc = ConvertTo-QmUtc $item.LastWriteTimeUtc
            }
        })
        $entry.other_entries = $others
    }
    $entry
})

$doc = [ordered]@{
    node         = [string]$env:COMPUTERNAME
    host_utc     = $null
    program_data = $programData
    folders      = $folders
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

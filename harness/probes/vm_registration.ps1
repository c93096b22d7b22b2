# qmaudit-probe: vm_registration
# qmaudit-kind: read
# What this node shows of a VM's registration (QM-03, QM-22), every path from this node's own
# %ProgramData% (never a hard-coded drive):
#   vm_known       Get-VM on this node lists the VM: the registration itself, for every version.
#   entries        version 5.0: files in '...\Hyper-V\Virtual Machines' named after the VMId
#                  (the symbolic link <VMId>.xml to the configuration), with link type and target.
#   cache_entries  version 6.2+: the per-VM cache entries in '...\Hyper-V\Virtual Machines Cache'
#                  named after the VMId (<VMId>.vmcx and a <VMId> folder).
#   host_store     '...\Hyper-V\data.vmcx', the host-wide registration store: present or not, it
#                  says nothing about one VM and is reported for the record only.
# Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$vmId = ConvertTo-QmGuid $Params.vm_id
if ($null -eq $vmId) { throw 'qmaudit: vm_registration needs the parameter vm_id (a GUID)' }

Import-QmModule 'Hyper-V'

$programData = [string]$env:ProgramData
$hyperV = Join-Path -Path $programData -ChildPath 'Microsoft\Windows\Hyper-V'
$linksFolder = Join-Path -Path $hyperV -ChildPath 'Virtual Machines'
$cacheFolder = Join-Path -Path $hyperV -ChildPath 'Virtual Machines Cache'
$hostStore = Join-Path -Path $hyperV -ChildPath 'data.vmcx'
$folderExists = Test-Path -LiteralPath $linksFolder -PathType Container

$entries = @()
if ($folderExists) {
    $entries = @(foreach ($item in @(Get-ChildItem -LiteralPath $linksFolder -Force)) {
        if (-not $item.Name.StartsWith($vmId, [StringComparison]::OrdinalIgnoreCase)) { continue }
        # Windows PowerShell 5.1 reports Target as a string array, PowerShell 7 as a string.
        $target = $null
        $targets = @(foreach ($t in $item.Target) { if ($t) { [string]$t } })
        if ($targets.Count -gt 0) { $target = $targets[0] }
        $linkType = $null
        if ($item.LinkType) { $linkType = [string]$item.LinkType }
        [ordered]@{ name = [string]$item.Name; link_type = $linkType; target = $target }
    })
}

$cacheEntries = @()
if (Test-Path -LiteralPath $cacheFolder -PathType Container) {
    $cacheEntries = @(foreach ($item in @(Get-ChildItem -LiteralPath $cacheFolder -Force)) {
        if (-not $item.Name.StartsWith($vmId, [StringComparison]::OrdinalIgnoreCase)) { continue }
        $bytes = $null
        if (-not $item.PSIsContainer) { $bytes = [int64]$item.Length }
        [ordered]@{ name = [string]$item.Name; bytes = $bytes }
    })
}

# Same question as Get-VM -Id, asked so that "not registered here" is an answer, not an error.
$vms = @(Get-VM | Where-Object { $_.Id.ToString() -eq $vmId })
$configVersion = $null
if ($vms.Count -gt 0) { $configVersion = [string]$vms[0].Version }

$doc = [ordered]@{
    node           = [string]$env:COMPUTERNAME
    host_utc       = $null
    program_data   = $programData
    links_folder   = [string]$linksFolder
    folder_exists  = [bool]$folderExists
    entries        = $entries
    cache_folder   = [string]$cacheFolder
    cache_entries  = $cacheEntries
    host_store     = [ordered]@{
        path    = [string]$hostStore
        present = [bool](Test-Path -LiteralPath $hostStore -PathType Leaf)
    }
    vm_known       = [bool]($vms.Count -gt 0)
    config_version = $configVersion
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

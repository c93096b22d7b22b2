# qmaudit-probe: vm_registration
# qmaudit-kind: read
# Where this node registers a VM (QM-03, QM-22): the links folder under this node's own
# %ProgramData% (never a hard-coded drive), the entries named after the VMId with their link type
# and target (version 5.0 symbolic links), whether data.vmcx (version 6.2+ registrations) is
# present, and whether Hyper-V on this node knows the VM. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$vmId = ConvertTo-QmGuid $Params.vm_id
if ($null -eq $vmId) { throw 'qmaudit: vm_registration needs the parameter vm_id (a GUID)' }

Import-QmModule 'Hyper-V'

$programData = [string]$env:ProgramData
$linksFolder = Join-Path -Path $programData -ChildPath 'Microsoft\Windows\Hyper-V\Virtual Machines'
$folderExists = Test-Path -LiteralPath $linksFolder -PathType Container

$entries = @()
$dataVmcx = $false
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
    $dataVmcx = Test-Path -LiteralPath (Join-Path -Path $linksFolder -ChildPath 'data.vmcx') -PathType Leaf
}

# Same question as Get-VM -Id, asked so that "not registered here" is an answer, not an error.
$known = @(Get-VM | Where-Object { $_.Id.ToString() -eq $vmId }).Count -gt 0

$doc = [ordered]@{
    node              = [string]$env:COMPUTERNAME
    host_utc          = $null
    program_data      = $programData
    links_folder      = [string]$linksFolder
    folder_exists     = [bool]$folderExists
    entries           = $entries
    data_vmcx_present = [bool]$dataVmcx
    vm_known          = [bool]$known
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

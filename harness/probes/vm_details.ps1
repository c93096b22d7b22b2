# qmaudit-probe: vm_details
# qmaudit-kind: read
# One VM as Hyper-V on this node sees it: state, configuration version, memory, every path
# (QM-04), disks (pass-through included, QM-21), MAC addresses (QM-14), uptime (QM-06), heartbeat,
# integration services (QM-15), its saved-state files with sizes (QM-02) and the configuration the
# whole-VM fingerprint compares (memory, processors, generation, adapters, checkpoints, start/stop). found = false when
# this node does not host the VM. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function ConvertTo-QmText($Value) {
    if ($null -eq $Value) { return $null }
    return [string]$Value
}

$vmId = ConvertTo-QmGuid $Params.vm_id
if ($null -eq $vmId) { throw 'qmaudit: vm_details needs the parameter vm_id (a GUID)' }

Import-QmModule 'Hyper-V'

# Filtering the full list instead of Get-VM -Id: a VM this node does not host is an answer
# (found = false), not an error to be told apart from real failures.
$vms = @(Get-VM | Where-Object { $_.Id.ToString() -eq $vmId })
$vmDoc = $null
if ($vms.Count -gt 0) {
    $vm = $vms[0]
    $disks = @(foreach ($d in @(Get-VMHardDiskDrive -VM $vm)) {
        $passthrough = $null -ne $d.DiskNumber
        $diskPath = $null
        # A pass-through disk's Path is a description ("Disk 2 ... Lun 1"), not a file.
        if (-not $passthrough) { $diskPath = ConvertTo-QmText $d.Path }
        $diskNumber = $null
        if ($passthrough) { $diskNumber = [int]$d.DiskNumber }
        [ordered]@{ path = $diskPath; disk_number = $diskNumber; passthrough = $passthrough }
    })
    $adapters = @(foreach ($a in @(Get-VMNetworkAdapter -VM $vm)) {
        [ordered]@{
            name        = [string]$a.Name
            mac_address = ([string]$a.MacAddress).ToUpperInvariant()
            switch_name = ConvertTo-QmText $a.SwitchName
            connected   = [bool]$a.Connected
        }
    })
    # Name and PrimaryStatusDescription are localized (de-DE: 'Zeitsynchronisierung'); the
    # component GUID at the end of Id ('Microsoft:<VMId>\<GUID>') and the enum name of
    # PrimaryOperationalStatus are not, so the audit keys on those (docs/windows-fidelity.md).
    $services = @(foreach ($s in @(Get-VMIntegrationService -VM $vm)) {
        $componentId = $null
        $idText = [string]$s.Id
        $cut = $idText.LastIndexOf('\')
        if ($cut -ge 0) { $componentId = ConvertTo-QmGuid $idText.Substring($cut + 1) }
        $operational = $null
        if ($null -ne $s.PrimaryOperationalStatus) { $operational = [string]$s.PrimaryOperationalStatus }
        [ordered]@{
            name               = [string]$s.Name
            enabled            = [bool]$s.Enabled
            primary_status     = ConvertTo-QmText $s.PrimaryStatusDescription
            component_id       = $componentId
            operational_status = $operational
        }
    })
    # Saved state lives beside the configuration: <VMId>.vmrs/.vmgs (version 6.2 and later) or
    # <VMId>\<VMId>.bin/.vsv (version 5.0) under '<ConfigurationLocation>\Virtual Machines'.
    # These files also exist while the VM runs, so the audit judges a save by what changes
    # (Length, LastWriteTimeUtc, State), never by their presence (docs/windows-fidelity.md).
    $stateFolder = Join-Path -Path ([string]$vm.ConfigurationLocation) -ChildPath 'Virtual Machines'
    # listed / absent / denied: an empty list proves nothing when the folder could not be read
    # (a share refuses a session without network credentials: the second hop).
    $stateFiles = @()
    $listing = 'absent'
    $entries = @()
    try {
        $entries = @(Get-ChildItem -LiteralPath $stateFolder -Recurse -File -Force -ErrorAction Stop)
        $listing = 'listed'
    } catch {
        $reason = $_.Exception
        if ($reason -is [System.UnauthorizedAccessException] -or [string]$_.CategoryInfo.Category -eq 'PermissionDenied') {
            $listing = 'denied'
        }
    }
    if ($listing -eq 'listed') {
        $stateFiles = @(foreach ($f in $entries) {
            $isState = @('.vmrs', '.vmgs', '.bin', '.vsv') -contains $f.Extension.ToLowerInvariant()
            if ($isState -and $f.Name.StartsWith($vmId, [StringComparison]::OrdinalIgnoreCase)) {
                [ordered]@{
                    path           = [string]$f.FullName
                    bytes          = [int64]$f.Length
                    last_write_utc = ConvertTo-QmUtc $f.LastWriteTimeUtc
                }
            }
        })
    }
    # The configuration the whole-VM fingerprint compares before and after a move (QM-04, QM-14).
    $checkpoints = @(foreach ($c in @(Get-VMSnapshot -VM $vm)) {
        $parent = $null
        if ($null -ne $c.ParentSnapshotId) { $parent = $c.ParentSnapshotId.ToString() }
        [ordered]@{ id = $c.Id.ToString(); name = [string]$c.Name; parent = $parent }
    })
    $config = [ordered]@{
        generation              = [int]$vm.Generation
        processor_count         = [int]$vm.ProcessorCount
        memory_minimum_bytes    = [int64]$vm.MemoryMinimum
        memory_maximum_bytes    = [int64]$vm.MemoryMaximum
        dynamic_memory_enabled  = [bool]$vm.DynamicMemoryEnabled
        automatic_start_action  = ConvertTo-QmText $vm.AutomaticStartAction
        automatic_start_delay_s = [int]$vm.AutomaticStartDelay
        automatic_stop_action   = ConvertTo-QmText $vm.AutomaticStopAction
        checkpoints             = $checkpoints
    }
    # Get-VM's State again after the listing: State and the files are two reads, seconds apart
    # on a busy host, and a listing counts as one instant only when both reads agree around it.
    $stateAfter = $null
    $again = @(Get-VM | Where-Object { $_.Id.ToString() -eq $vmId })
    if ($again.Count -gt 0) { $stateAfter = [string]$again[0].State }
    $vmDoc = [ordered]@{
        name                   = [string]$vm.Name
        id                     = $vm.Id.ToString()
        state                  = [string]$vm.State
        config_version         = [string]$vm.Version
        memory_startup_bytes   = [int64]$vm.MemoryStartup
        memory_assigned_bytes  = [int64]$vm.MemoryAssigned
        path                   = [string]$vm.Path
        configuration_location = [string]$vm.ConfigurationLocation
        snapshot_file_location = ConvertTo-QmText $vm.SnapshotFileLocation
        smart_paging_file_path = ConvertTo-QmText $vm.SmartPagingFilePath
        hard_disks             = $disks
        network_adapters       = $adapters
        uptime_seconds         = [double]$vm.Uptime.TotalSeconds
        heartbeat              = ConvertTo-QmText $vm.Heartbeat
        integration_services   = $services
        saved_state_files      = $stateFiles
        state_after_files      = $stateAfter
        saved_state_listing    = $listing
        is_clustered           = [bool]$vm.IsClustered
        config                 = $config
    }
}

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    found    = $null -ne $vmDoc
    vm       = $vmDoc
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

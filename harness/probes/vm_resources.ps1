# qmaudit-probe: vm_resources
# qmaudit-kind: read
# The VM's 'Virtual Machine' and 'Virtual Machine Configuration' cluster resources (QM-13, QM-01):
# identity, owner, state, OfflineAction, VmID, and the same resource as this node's registry shows
# it under HKLM:\Cluster\Resources\<id>. The registry is only read here, never written.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# A registry value as text, or null when the value does not exist.
function Get-QmRegistryText($Properties, [string] $Name) {
    if ($null -eq $Properties) { return $null }
    $property = $Properties.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) { return $null }
    return [string]$property.Value
}

$vmId = ConvertTo-QmGuid $Params.vm_id
if ($null -eq $vmId) { throw 'qmaudit: vm_resources needs the parameter vm_id (a GUID)' }

Import-QmModule 'FailoverClusters'

$types = @('Virtual Machine', 'Virtual Machine Configuration')
$resources = @(foreach ($r in @(Get-ClusterResource | Where-Object { $types -contains $_.ResourceType.Name })) {
    $parameters = @($r | Get-ClusterParameter)
    $vmIdParameter = @($parameters | Where-Object { $_.Name -eq 'VmID' })
    $resourceVmId = $null
    if ($vmIdParameter.Count -gt 0) { $resourceVmId = ConvertTo-QmGuid $vmIdParameter[0].Value }
    if ($resourceVmId -ne $vmId) { continue }

    $offlineAction = $null
    $offlineParameter = @($parameters | Where-Object { $_.Name -eq 'OfflineAction' })
    if ($offlineParameter.Count -gt 0 -and $null -ne $offlineParameter[0].Value) {
        $offlineAction = [int]$offlineParameter[0].Value
    }

    $key = 'HKLM:\Cluster\Resources\' + [string]$r.Id
    $registry = [ordered]@{ present = $false; name = $null; type = $null; vm_id = $null }
    if (Test-Path -LiteralPath $key -PathType Container) {
        $values = Get-ItemProperty -LiteralPath $key
        $registry.present = $true
        $registry.name = Get-QmRegistryText $values 'Name'
        $registry.type = Get-QmRegistryText $values 'Type'
        $parametersKey = $key + '\Parameters'
        if (Test-Path -LiteralPath $parametersKey -PathType Container) {
            $rawVmId = Get-QmRegistryText (Get-ItemProperty -LiteralPath $parametersKey) 'VmID'
            # Normalised like every other VMId in the documents; an unparsable value is kept raw.
            $registry.vm_id = $rawVmId
            if ($null -ne (ConvertTo-QmGuid $rawVmId)) { $registry.vm_id = ConvertTo-QmGuid $rawVmId }
        }
    }

    [ordered]@{
        id             = ConvertTo-QmGuid $r.Id
        name           = [string]$r.Name
        resource_type  = [string]$r.ResourceType.Name
        owner_group    = [string]$r.OwnerGroup.Name
        owner_node     = [string]$r.OwnerNode.Name
        state          = [string]$r.State
        offline_action = $offlineAction
        vm_id          = $resourceVmId
        registry       = $registry
    }
})

$doc = [ordered]@{
    node      = [string]$env:COMPUTERNAME
    host_utc  = $null
    resources = $resources
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress

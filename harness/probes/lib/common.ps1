# Shared helpers of every qmaudit probe: harness/protocol.py sends this file between the
# parameter line and the probe body (see docs/contracts.md). Definitions only: no side effects.

function ConvertTo-QmUtc([datetime] $Time) {
    $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", [Globalization.CultureInfo]::InvariantCulture)
}

# A probe's since_utc parameter as a UTC DateTime. PowerShell 7's ConvertFrom-Json already
# turns ISO strings into DateTime; 5.1 leaves a string.
function ConvertFrom-QmSince($Value, [string] $Probe) {
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    $parsed = [DateTime]::MinValue
    $styles = [Globalization.DateTimeStyles]::AdjustToUniversal -bor [Globalization.DateTimeStyles]::AssumeUniversal
    if (-not [DateTime]::TryParse([string]$Value, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$parsed)) {
        throw "qmaudit: $Probe needs the parameter since_utc as an ISO 8601 UTC time, got '$Value'"
    }
    return $parsed
}

function ConvertTo-QmGuid($Value) {
    $parsed = [guid]::Empty
    if ($null -ne $Value -and [guid]::TryParse(([string]$Value).Trim(), [ref]$parsed)) {
        return $parsed.ToString()
    }
    return $null
}

function Get-QmWin32Code($ErrorRecord) {
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception) {
        if ($exception -is [ComponentModel.Win32Exception]) { return [int]$exception.NativeErrorCode }
        $exception = $exception.InnerException
    }
    return [int]($ErrorRecord.Exception.HResult -band 0xFFFF)
}

# Every distinct message down the exception chain: the cluster cmdlets often wrap the Win32 text
# ("The cluster node was not found") in a generic outer message.
function Get-QmFailureText($ErrorRecord) {
    $messages = [System.Collections.Generic.List[string]]::new()
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception) {
        $text = ([string]$exception.Message).Trim()
        if ($text -and -not $messages.Contains($text)) { $messages.Add($text) }
        $exception = $exception.InnerException
    }
    return ($messages -join ' ')
}

# Load a module the probe needs, or fail with a message naming the module and the host.
function Import-QmModule([string] $Name) {
    try {
        Import-Module -Name $Name
    } catch {
        throw "qmaudit: the $Name PowerShell module is not available on $($env:COMPUTERNAME): $($_.Exception.Message)"
    }
}

# qmaudit stdin bootstrap: the only script that travels on the WinRS command line (as
# -EncodedCommand). The probe script itself arrives on standard input, sent with WS-Man Send:
# one line of base64 (the UTF-8 text of the script), then end of input (Send End="true").
# $input enumerates stdin until end of input; -Command - would run stdin line by line instead.
$ErrorActionPreference = 'Stop'
$qmScriptText = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(-join @($input)))
& ([ScriptBlock]::Create($qmScriptText))

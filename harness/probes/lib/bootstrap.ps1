# qmaudit stdin bootstrap: the only script that travels on the WinRS command line (as
# -EncodedCommand). The probe script itself arrives on standard input, sent with WS-Man Send:
# one line of base64 (the UTF-8 text of the script), then end of input (Send End="true").
# $input enumerates stdin until end of input; -Command - would run stdin line by line instead.
$ErrorActionPreference = 'Stop'
# Hosts locked down by WDAC or AppLocker run remote sessions in ConstrainedLanguage, which refuses
# the method calls below: say so, with the fix, instead of a parser error.
$qmMode = [string]$ExecutionContext.SessionState.LanguageMode
if ($qmMode -ne 'FullLanguage') {
    throw ('qmaudit: this session runs in ' + $qmMode + ' mode (WDAC or AppLocker policy on ' + $env:COMPUTERNAME + '); the probes need FullLanguage. Fix: audit from an account and endpoint in FullLanguage (a JEA or session configuration allowed by the policy), or exempt the audit account.')
}
$qmScriptText = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(-join @($input)))
& ([ScriptBlock]::Create($qmScriptText))

// Imported first by tests that read every log line: Powertools takes its level from the
// environment when its Logger is constructed (at import), and each invocation returns to it.
process.env['POWERTOOLS_LOG_LEVEL'] = 'DEBUG';

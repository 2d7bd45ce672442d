// Imported first by the sync integration tests: Powertools reads these when its Logger and
// Metrics are constructed (at import). Metrics are not asserted here; warnings stay visible.
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_LOG_LEVEL'] ??= 'ERROR';
process.env['AWS_REGION'] ??= 'us-east-1';

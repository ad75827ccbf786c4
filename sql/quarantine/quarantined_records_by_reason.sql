-- What the CSV conversion quarantined in one dataset, per source object version and reason (Athena engine 3
-- dialect, over the csv_quarantine table): how many records and bytes, and the first and last lines. Each record's
-- preview is in the table; its full bytes are in its source version, however long:
--   lakepipe quarantine fetch <dataset> --source <source_key> --line <line>
-- The parameter is a quoted SQL string literal ('users'):
-- Parameters (in order): dataset
SELECT
    source_key,
    source_version_id,
    reason_code,
    count(*) AS records,
    sum(byte_length) AS bytes,
    min(line) AS first_line,
    max(line) AS last_line
FROM csv_quarantine
WHERE dataset = ?
GROUP BY source_key, source_version_id, reason_code
ORDER BY source_key, first_line

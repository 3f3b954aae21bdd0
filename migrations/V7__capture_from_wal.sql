-- Capture from the write-ahead log (fluxgate.changes.capture.mode=logical). The capture leader
-- decodes each committed transaction from a logical replication slot and appends its changes to
-- change_log in a transaction of its own; source_lsn is the decoded transaction's commit LSN, so
-- an append repeated after a crash (appended, not yet confirmed to the slot) is refused instead
-- of logged twice. Rows written by the capture triggers leave it NULL.
ALTER TABLE change_commit ADD COLUMN source_lsn pg_lsn UNIQUE;

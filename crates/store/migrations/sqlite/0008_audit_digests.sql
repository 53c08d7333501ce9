-- Each audit event carries the content digests of the clinical rows its
-- change wrote ("table:key:sha256 …"), sealed by the keyed chain, so
-- `carepath audit verify` proves the clinical record matches its history.
ALTER TABLE audit_event ADD COLUMN digests TEXT;

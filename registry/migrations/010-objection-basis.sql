-- An objection (art. 21) and a consent withdrawal (art. 7(3)) for the same
-- purpose are two records: lifting one leaves the other in force.
ALTER TABLE subject_objections DROP CONSTRAINT subject_objections_pkey;
ALTER TABLE subject_objections ADD PRIMARY KEY (tenant_id, subject_ref, purpose, basis);

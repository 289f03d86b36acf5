# The import id is the table name, session-table-{name_version}-{environment}.
terraform import drpair_session_table.sessions session-table-v2-dev

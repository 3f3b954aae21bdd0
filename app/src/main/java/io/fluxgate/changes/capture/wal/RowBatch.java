package io.fluxgate.changes.capture.wal;

import tools.jackson.core.io.JsonStringEncoder;

/**
 * Consecutive decoded changes of one table, as the JSON array {@code change_log_append} takes:
 * {@code [{"op": ..., "n": {...}, "o": {...}}, ...]}, each row an object of its columns' text
 * forms (json and jsonb columns as JSON), typed by the database through the table's row type.
 */
final class RowBatch {

    private static final int JSON = 114;
    private static final int JSONB = 3802;

    private final PgOutput.Relation table;
    private final StringBuilder json = new StringBuilder(256).append('[');
    private int rows;

    RowBatch(PgOutput.Relation table) {
        this.table = table;
    }

    PgOutput.Relation table() {
        return table;
    }

    int length() {
        return json.length();
    }

    /** Adds one row change; false when an unchanged TOASTed value could not be filled in from the old row. */
    boolean add(PgOutput.Row row) {
        if (rows > 0) {
            json.append(',');
        }
        rows++;
        json.append("{\"op\":\"").append(row.operation()).append('"');
        boolean complete = true;
        if (row.after() != null) {
            json.append(",\"n\":");
            complete = object(row.after(), row.before());
        }
        if (row.before() != null) {
            json.append(",\"o\":");
            object(row.before(), null);
        }
        json.append('}');
        return complete;
    }

    String json() {
        return json.toString() + ']';
    }

    /** This run as an element of {@code change_log_append_sources}'s runs. */
    void appendRun(StringBuilder out) {
        out.append("{\"rel\":").append(table.id()).append(",\"rows\":").append(json).append("]}");
    }

    private boolean object(String[] values, String[] fallback) {
        boolean complete = true;
        json.append('{');
        for (int i = 0; i < values.length; i++) {
            String value = values[i];
            if (value == PgOutput.UNCHANGED) {
                // Not sent because the UPDATE left it alone: the old row (REPLICA IDENTITY FULL) has it.
                value = fallback != null && fallback[i] != PgOutput.UNCHANGED ? fallback[i] : null;
                complete &= value != null;
            }
            if (i > 0) {
                json.append(',');
            }
            PgOutput.Column column = table.columns().get(i);
            string(column.name()).append(':');
            if (value == null) {
                json.append("null");
            } else if (column.typeOid() == JSON || column.typeOid() == JSONB) {
                json.append(value);
            } else {
                string(value);
            }
        }
        json.append('}');
        return complete;
    }

    private StringBuilder string(String text) {
        json.append('"');
        JsonStringEncoder.getInstance().quoteAsString(text, json);
        return json.append('"');
    }
}

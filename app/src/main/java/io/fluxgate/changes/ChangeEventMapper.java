package io.fluxgate.changes;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Set;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.stereotype.Component;

/**
 * Turns a change-log row into its wire frame, once: snake_case columns become camelCase fields,
 * timestamps become ISO-8601 UTC, money becomes a string, as the REST API shows the same rows.
 */
@Component
class ChangeEventMapper {

    /** Columns that hold money: NUMERIC in the database, a JSON string on the wire. */
    private static final Set<String> MONEY = Set.of("balance", "amount");
    /** Columns never sent, even if a trigger were changed to log them. */
    private static final Set<String> NEVER = Set.of("password", "token_version", "idempotency_key");

    private final JsonMapper json;

    ChangeEventMapper(JsonMapper json) {
        this.json = json;
    }

    ChangeEvent toEvent(Position position, String channel, String table, String operation, String rowJson,
            long[] userIds, Instant committedAt) {
        ObjectNode frame = json.createObjectNode();
        frame.put("type", "database_change");
        frame.put("channel", channel);
        frame.put("operation", operation);
        frame.put("table", table);
        frame.set("data", camelCaseRow(json.readTree(rowJson)));
        frame.put("cursor", position.toCursor());
        frame.put("committedAt", committedAt.toString());
        return new ChangeEvent(position, channel, table, userIds, committedAt, json.writeValueAsBytes(frame));
    }

    private ObjectNode camelCaseRow(JsonNode row) {
        ObjectNode data = json.createObjectNode();
        for (Map.Entry<String, JsonNode> column : row.properties()) {
            String name = column.getKey();
            if (NEVER.contains(name)) {
                continue;
            }
            JsonNode value = column.getValue();
            String field = camelCase(name);
            if (MONEY.contains(name) && value.isNumber()) {
                data.put(field, value.decimalValue().setScale(2).toPlainString());
            } else if (value.isString() && isTimestampColumn(name)) {
                data.put(field, utc(value.asString()));
            } else {
                data.set(field, value);
            }
        }
        return data;
    }

    private static boolean isTimestampColumn(String name) {
        return name.endsWith("_at") || name.equals("last_active");
    }

    /** PostgreSQL writes timestamps in the writer's time zone; clients always get UTC. */
    private static String utc(String timestamp) {
        try {
            return OffsetDateTime.parse(timestamp).toInstant().toString();
        } catch (DateTimeParseException notATimestamp) {
            return timestamp;
        }
    }

    static String camelCase(String snake) {
        StringBuilder out = new StringBuilder(snake.length());
        boolean upper = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }
}

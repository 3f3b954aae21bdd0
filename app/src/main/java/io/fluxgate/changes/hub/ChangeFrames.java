package io.fluxgate.changes.hub;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.fluxgate.changes.delivery.Outbound;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.stereotype.Component;

/**
 * Builds every frame the change stream sends, for the WebSocket and the SSE transport alike, and is
 * the one place that keeps secrets out of change events.
 */
@Component
public class ChangeFrames {

    /** Fields never sent, whatever a trigger or a document holds. */
    private static final Set<String> SECRETS = Set.of("password", "passwordHash", "tokenVersion", "idempotencyKey",
            "_class");
    /** Columns that hold money: NUMERIC in the database, a JSON string on the wire. */
    private static final Set<String> MONEY = Set.of("balance", "amount");

    private final JsonMapper json;

    public ChangeFrames(JsonMapper json) {
        this.json = json;
    }

    /** A change-log row as an event. */
    public ChangeEvent logged(Position position, String channel, String table, String operation, String rowJson,
            long[] userIds, Instant committedAt) {
        return event(position, channel, table, operation, row(rowJson), userIds, committedAt);
    }

    /**
     * A row as PostgreSQL's {@code to_jsonb} writes it, as change data: snake_case columns become
     * camelCase fields, timestamps ISO-8601 UTC and money a string, as the REST API shows the same
     * rows; secrets are dropped.
     */
    public ObjectNode row(String rowJson) {
        ObjectNode data = json.createObjectNode();
        for (Map.Entry<String, JsonNode> column : json.readTree(rowJson).properties()) {
            String name = column.getKey();
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
        return withoutSecrets(data);
    }

    /** An event of a live-only channel (no log position, so no cursor), from its camelCase fields. */
    public ChangeEvent live(String channel, String table, String operation, ObjectNode data, Instant committedAt) {
        return event(null, channel, table, operation, data, new long[0], committedAt);
    }

    private ChangeEvent event(Position position, String channel, String table, String operation, ObjectNode data,
            long[] userIds, Instant committedAt) {
        withoutSecrets(data);
        String cursor = position == null ? null : position.toCursor();
        ObjectNode frame = changeFrame(channel, operation, table, data, cursor, committedAt);
        return new ChangeEvent(position, channel, table, operation, data, userIds, committedAt, cursor,
                json.writeValueAsBytes(frame));
    }

    /** An empty object for a live source to fill with an event's fields. */
    public ObjectNode object() {
        return json.createObjectNode();
    }

    /** A plain Java value (maps, lists, strings, numbers) as JSON. */
    public JsonNode value(Object value) {
        return json.valueToTree(value);
    }

    /** The event's shared frame, as every session sends it that asks for nothing narrower. */
    Outbound.Frame change(ChangeEvent event) {
        return new Outbound.Frame("database_change", event.frame(), event.cursor(), event.committedAt());
    }

    /**
     * The event's frame for one session: only {@code columns} of its data (null: all) and, when not
     * empty, the ids of the {@code subscriptions} it matched.
     */
    public Outbound.Frame change(ChangeEvent event, Set<String> columns, List<String> subscriptions) {
        if (columns == null && subscriptions.isEmpty()) {
            return change(event);
        }
        ObjectNode data = project(event.data(), columns);
        ObjectNode frame = changeFrame(event.channel(), event.operation(), event.table(), data, event.cursor(),
                event.committedAt());
        if (!subscriptions.isEmpty()) {
            ArrayNode ids = frame.putArray("subscriptions");
            subscriptions.forEach(ids::add);
        }
        return new Outbound.Frame("database_change", json.writeValueAsBytes(frame), event.cursor(),
                event.committedAt());
    }

    /** Only {@code columns} of {@code data} (all when null), as a new object; {@code data} is untouched. */
    public ObjectNode project(ObjectNode data, Set<String> columns) {
        if (columns == null) {
            return data;
        }
        ObjectNode narrowed = json.createObjectNode();
        for (String column : columns) {
            JsonNode value = data.get(column);
            if (value != null) {
                narrowed.set(column, value);
            }
        }
        return narrowed;
    }

    private ObjectNode changeFrame(String channel, String operation, String table, ObjectNode data, String cursor,
            Instant committedAt) {
        ObjectNode frame = json.createObjectNode();
        frame.put("type", "database_change");
        frame.put("channel", channel);
        frame.put("operation", operation);
        frame.put("table", table);
        frame.set("data", data);
        if (cursor == null) {
            frame.putNull("cursor");
        } else {
            frame.put("cursor", cursor);
        }
        frame.put("committedAt", committedAt.toString());
        return frame;
    }

    /** {@code subscribed}: the subscription is live from {@code from} on (null on live-only channels). */
    public Outbound.Frame subscribed(String channel, String id, Position from) {
        ObjectNode frame = control("subscribed", channel);
        if (id != null) {
            frame.put("id", id);
        }
        if (from != null) {
            frame.put("cursor", from.toCursor());
        }
        return frame(frame, null);
    }

    public Outbound.Frame unsubscribed(String channel, Collection<String> ids) {
        ObjectNode frame = control("unsubscribed", channel);
        ArrayNode list = frame.putArray("ids");
        ids.forEach(list::add);
        return frame(frame, null);
    }

    public Outbound.Frame pong() {
        return frame(control("pong", null), null);
    }

    public Outbound.Frame resyncRequired(String channel) {
        return frame(control("resync_required", channel), null);
    }

    public Outbound.Frame authOk(Instant expiresAt) {
        ObjectNode frame = control("auth_ok", null);
        frame.put("expiresAt", expiresAt == null ? null : expiresAt.toString());
        return frame(frame, null);
    }

    /** One page of a snapshot: rows as change data (secrets dropped, columns applied by the caller). */
    public Outbound.Frame snapshot(String channel, String id, String table, List<ObjectNode> rows) {
        ObjectNode frame = control("snapshot", channel);
        if (id != null) {
            frame.put("id", id);
        }
        frame.put("table", table);
        ArrayNode data = frame.putArray("data");
        rows.forEach(data::add);
        return frame(frame, null);
    }

    public Outbound.Frame snapshotEnd(String channel, String id, Position cursor) {
        ObjectNode frame = control("snapshot_end", channel);
        if (id != null) {
            frame.put("id", id);
        }
        frame.put("cursor", cursor.toCursor());
        // Not an event id: the changes a snapshot was read ahead of may still come, with lower ids.
        return frame(frame, null);
    }

    /** {@code close}: how a transport without close codes (SSE) tells the client why it ends. */
    public Outbound.Frame close(Outbound.Close close) {
        ObjectNode frame = control("close", null);
        frame.put("code", close.code());
        frame.put("reason", close.reason());
        return frame(frame, null);
    }

    /** {@code error}: the connection stays open; {@code channel} and {@code detail} are optional. */
    public Outbound.Frame error(String error, String channel, String detail) {
        ObjectNode frame = json.createObjectNode();
        frame.put("type", "error");
        frame.put("error", error);
        if (channel != null) {
            frame.put("channel", channel);
        }
        if (detail != null) {
            frame.put("detail", detail);
        }
        return frame(frame, null);
    }

    private ObjectNode control(String type, String channel) {
        ObjectNode frame = json.createObjectNode();
        frame.put("type", type);
        if (channel != null) {
            frame.put("channel", channel);
        }
        return frame;
    }

    private Outbound.Frame frame(ObjectNode frame, String cursor) {
        return new Outbound.Frame(frame.path("type").asString(), json.writeValueAsBytes(frame), cursor, null);
    }

    /** Drops the fields no change frame may carry, in place. */
    ObjectNode withoutSecrets(ObjectNode data) {
        data.remove(SECRETS);
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

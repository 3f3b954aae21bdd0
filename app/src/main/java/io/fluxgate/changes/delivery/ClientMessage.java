package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.List;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** What a client may send on the change stream, parsed; anything else is {@link Invalid}. */
public sealed interface ClientMessage extends SessionInput {

    /** Longest subscription id a client may choose. */
    int MAX_ID_LENGTH = 64;

    /**
     * @param id the client's name for the subscription; null: the channel's name
     * @param filter the row filter as sent (compiled by the session), or null
     * @param columns the fields to send, or null for all
     */
    record Subscribe(String channel, String id, String resumeFrom, boolean snapshot, JsonNode filter,
            List<String> columns) implements ClientMessage {

        Subscribe(String channel, String resumeFrom) {
            this(channel, null, resumeFrom, false, null, null);
        }
    }

    /** All of a channel's subscriptions, or the one with {@code id}. */
    record Unsubscribe(String channel, String id) implements ClientMessage {
    }

    record Ping() implements ClientMessage {
    }

    /**
     * Everything the session's subscriptions and the delivery rules would have sent after
     * {@code cursor}, in commit order, then the live stream: how the event stream resumes after
     * {@code Last-Event-ID} (its ids then only move forward). Not parsed from client frames.
     */
    record Resume(String cursor) implements ClientMessage {
    }

    /** A fresh token for the same user. */
    record Auth(String token) implements ClientMessage {
    }

    record Invalid(String error) implements ClientMessage {
    }

    /** The client went away; ends the session's processing. */
    record Closed() implements ClientMessage {
    }

    Invalid MALFORMED = new Invalid("Invalid message format");

    static ClientMessage parse(String text, JsonMapper json) {
        JsonNode message;
        try {
            message = json.readTree(text);
        } catch (JacksonException notJson) {
            return MALFORMED;
        }
        if (message == null || !message.isObject() || !message.path("type").isString()) {
            return MALFORMED;
        }
        return switch (message.path("type").asString()) {
            case "subscribe" -> subscribe(message);
            case "unsubscribe" -> {
                JsonNode channel = message.path("channel");
                JsonNode id = message.path("id");
                yield !stringOrAbsent(channel) || !stringOrAbsent(id) || (text(channel) == null && text(id) == null)
                        ? MALFORMED
                        : new Unsubscribe(text(channel), text(id));
            }
            case "ping" -> new Ping();
            case "auth" -> message.path("token").isString() ? new Auth(message.path("token").asString()) : MALFORMED;
            default -> MALFORMED;
        };
    }

    private static ClientMessage subscribe(JsonNode message) {
        String channel = text(message.path("channel"));
        String id = text(message.path("id"));
        String resume = text(message.path("resumeFrom"));
        JsonNode snapshot = message.path("snapshot");
        JsonNode filter = message.path("filter");
        JsonNode columns = message.path("columns");
        if (channel == null || !stringOrAbsent(message.path("id")) || !stringOrAbsent(message.path("resumeFrom"))
                || !(snapshot.isMissingNode() || snapshot.isNull() || snapshot.isBoolean())
                || !(columns.isMissingNode() || columns.isNull() || columns.isArray())) {
            return MALFORMED;
        }
        if (id != null && (id.isEmpty() || id.length() > MAX_ID_LENGTH)) {
            return new Invalid("Invalid subscription id");
        }
        List<String> names = null;
        if (columns.isArray()) {
            names = new ArrayList<>();
            for (JsonNode column : columns) {
                if (!column.isString() || names.size() == 100) {
                    return new Invalid("Invalid columns");
                }
                names.add(column.asString());
            }
        }
        return new Subscribe(channel, id, resume, snapshot.asBoolean(false),
                filter.isMissingNode() || filter.isNull() ? null : filter, names);
    }

    private static boolean stringOrAbsent(JsonNode value) {
        return value.isMissingNode() || value.isNull() || value.isString();
    }

    /** The field's text; null when it is absent or not a string. */
    private static String text(JsonNode value) {
        return value.isString() ? value.asString() : null;
    }
}

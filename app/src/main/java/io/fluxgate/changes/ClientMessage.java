package io.fluxgate.changes;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** What a client may send on {@code /ws/changes}, parsed; anything else is {@link Invalid}. */
sealed interface ClientMessage {

    record Subscribe(String channel, String resumeFrom) implements ClientMessage {
    }

    record Unsubscribe(String channel) implements ClientMessage {
    }

    record Ping() implements ClientMessage {
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
        String channel = message.path("channel").isString() ? message.path("channel").asString() : null;
        JsonNode resume = message.path("resumeFrom");
        return switch (message.path("type").asString()) {
            case "subscribe" -> channel == null || !(resume.isMissingNode() || resume.isNull() || resume.isString())
                    ? MALFORMED
                    : new Subscribe(channel, resume.isString() ? resume.asString() : null);
            case "unsubscribe" -> channel == null ? MALFORMED : new Unsubscribe(channel);
            case "ping" -> new Ping();
            default -> MALFORMED;
        };
    }
}

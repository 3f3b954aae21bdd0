package io.fluxgate.changes.delivery;

import java.util.List;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** What a client's text frame becomes: every field of the wrong type is a malformed message. */
class ClientMessageTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static ClientMessage parse(String text) {
        return ClientMessage.parse(text, JSON);
    }

    @Test
    void readsEveryOptionOfASubscribe() {
        ClientMessage message = parse("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"s1\","
                + "\"snapshot\":true,\"filter\":{\"id\":{\"eq\":1}},\"columns\":[\"title\"]}");
        assertThat(message).isInstanceOfSatisfying(ClientMessage.Subscribe.class, subscribe -> {
            assertThat(subscribe.id()).isEqualTo("s1");
            assertThat(subscribe.snapshot()).isTrue();
            assertThat(subscribe.filter().toString()).isEqualTo("{\"id\":{\"eq\":1}}");
            assertThat(subscribe.columns()).containsExactly("title");
            assertThat(subscribe.resumeFrom()).isNull();
        });
        assertThat(parse("{\"type\":\"unsubscribe\",\"id\":\"s1\"}")).isEqualTo(new ClientMessage.Unsubscribe(null, "s1"));
        assertThat(parse("{\"type\":\"auth\",\"token\":\"t\"}")).isEqualTo(new ClientMessage.Auth("t"));
    }

    @Test
    void fieldsOfTheWrongTypeAreMalformed() {
        for (String bad : List.of(
                "{\"type\":\"subscribe\"}",
                "{\"type\":\"subscribe\",\"channel\":5}",
                "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":5}",
                "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"resumeFrom\":[]}",
                "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"snapshot\":\"yes\"}",
                "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"columns\":\"title\"}",
                "{\"type\":\"unsubscribe\"}",
                "{\"type\":\"unsubscribe\",\"channel\":\"post_changes\",\"id\":{}}",
                "{\"type\":\"auth\",\"token\":1}",
                "{\"type\":\"resume\",\"cursor\":\"x\"}",
                "[]",
                "not json")) {
            assertThat(parse(bad)).as(bad).isEqualTo(ClientMessage.MALFORMED);
        }
        assertThat(parse("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"\"}"))
                .isEqualTo(new ClientMessage.Invalid("Invalid subscription id"));
        assertThat(parse("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"columns\":[1]}"))
                .isEqualTo(new ClientMessage.Invalid("Invalid columns"));
    }
}

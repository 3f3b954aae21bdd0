package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.util.Set;

import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Route;
import io.fluxgate.changes.hub.Values;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** Row filters: every operator, nesting, what is refused, and that no pattern makes matching slow. */
class RowFilterTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Set<String> FIELDS = Channels.fields(Channels.ACCOUNTS);

    private static RowFilter filter(String spec) {
        return RowFilter.compile(JSON.readTree(spec), FIELDS);
    }

    private static ObjectNode row(String json) {
        return (ObjectNode) JSON.readTree(json);
    }

    private static final ObjectNode TRANSFER = row("""
            {"id":7,"fromUserId":5,"toUserId":9,"amount":"12.50","type":"transfer",
             "createdAt":"2026-11-30T08:00:00.5Z","currency":null}""");

    @Test
    void comparesEveryOperatorOnTheRow() {
        assertThat(filter("{\"fromUserId\":{\"eq\":5}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"fromUserId\":{\"eq\":5.0}}").test(TRANSFER)).as("numbers by value").isTrue();
        assertThat(filter("{\"fromUserId\":{\"eq\":\"5\"}}").test(TRANSFER)).as("a string is not a number").isFalse();
        assertThat(filter("{\"fromUserId\":{\"neq\":5}}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"toUserId\":{\"in\":[1,9]}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"toUserId\":{\"in\":[1,2]}}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"amount\":{\"gt\":12}}").test(TRANSFER)).as("money strings compare as numbers").isTrue();
        assertThat(filter("{\"amount\":{\"lte\":\"12.5\"}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"amount\":{\"lt\":\"12.5\"}}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"createdAt\":{\"gte\":\"2026-11-30T08:00:00Z\"}}").test(TRANSFER))
                .as("timestamps by instant, whatever their fraction digits").isTrue();
        assertThat(filter("{\"createdAt\":{\"lt\":\"2026-11-30T08:00:00.400Z\"}}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"type\":{\"like\":\"tr%r\"}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"type\":{\"like\":\"t_ansfer\"}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"type\":{\"like\":\"%fe\"}}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"currency\":{\"isNull\":true}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"userId\":{\"isNull\":true}}").test(TRANSFER)).as("absent is null").isTrue();
        assertThat(filter("{\"amount\":{\"isNull\":false}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"userId\":{\"gt\":1}}").test(TRANSFER)).as("nothing to compare").isFalse();
    }

    @Test
    void fieldsAndOperatorsAreAndedAndLogicNests() {
        assertThat(filter("{\"fromUserId\":{\"eq\":5},\"toUserId\":{\"eq\":8}}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"amount\":{\"gt\":10,\"lt\":13}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"amount\":{\"gt\":10,\"lt\":11}}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"or\":[{\"fromUserId\":{\"eq\":1}},{\"toUserId\":{\"eq\":9}}]}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"or\":[{\"fromUserId\":{\"eq\":1}},{\"toUserId\":{\"eq\":2}}]}").test(TRANSFER)).isFalse();
        assertThat(filter("{\"not\":{\"type\":{\"eq\":\"deposit\"}}}").test(TRANSFER)).isTrue();
        assertThat(filter("{\"type\":{\"eq\":\"transfer\"},\"and\":[{\"not\":{\"amount\":{\"gt\":100}}}]}")
                .test(TRANSFER)).isTrue();
    }

    @Test
    void aTopLevelEqualityIsOfferedForIndexingAndNothingNestedIs() {
        assertThat(filter("{\"amount\":{\"gt\":1},\"toUserId\":{\"eq\":9}}").equality())
                .isEqualTo(new Route.Equality("toUserId", Set.of(Values.key(JSON.readTree("9")))));
        assertThat(filter("{\"toUserId\":{\"in\":[1,2.0]}}").equality().keys())
                .containsExactlyInAnyOrder(Values.key(JSON.readTree("1")), Values.key(JSON.readTree("2")));
        assertThat(filter("{\"or\":[{\"toUserId\":{\"eq\":9}}]}").equality()).isNull();
        assertThat(filter("{\"amount\":{\"gt\":1}}").equality()).isNull();
    }

    @Test
    void refusesWhatItCannotMeanWithAReason() {
        assertThatThrownBy(() -> filter("{\"password\":{\"eq\":\"x\"}}")).hasMessageContaining("Unknown field 'password'");
        assertThatThrownBy(() -> filter("{\"amount\":{\"regex\":\".*\"}}")).hasMessageContaining("Unknown operator 'regex'");
        assertThatThrownBy(() -> filter("{\"amount\":5}")).hasMessageContaining("object of operators");
        assertThatThrownBy(() -> filter("{\"amount\":{\"eq\":null}}")).hasMessageContaining("isNull");
        assertThatThrownBy(() -> filter("{\"amount\":{\"eq\":[1]}}")).isInstanceOf(RowFilter.Invalid.class);
        assertThatThrownBy(() -> filter("{\"or\":[]}")).isInstanceOf(RowFilter.Invalid.class);
        assertThatThrownBy(() -> filter("{}")).isInstanceOf(RowFilter.Invalid.class);
        assertThatThrownBy(() -> RowFilter.compile(JSON.readTree("[1]"), FIELDS)).isInstanceOf(RowFilter.Invalid.class);
        StringBuilder many = new StringBuilder("{\"or\":[");
        for (int i = 0; i <= RowFilter.MAX_CONDITIONS; i++) {
            many.append(i == 0 ? "" : ",").append("{\"id\":{\"eq\":").append(i).append("}}");
        }
        assertThatThrownBy(() -> filter(many + "]}")).hasMessageContaining("at most 50 conditions");
        String deep = "{\"not\":".repeat(RowFilter.MAX_DEPTH) + "{\"id\":{\"eq\":1}}" + "}".repeat(RowFilter.MAX_DEPTH);
        assertThatThrownBy(() -> filter(deep)).hasMessageContaining("nest");
        StringBuilder values = new StringBuilder("[0");
        for (int i = 1; i <= RowFilter.MAX_IN_VALUES; i++) {
            values.append(',').append(i);
        }
        assertThatThrownBy(() -> filter("{\"id\":{\"in\":" + values + "]}}")).hasMessageContaining("'in'");
        assertThatThrownBy(() -> filter("{\"type\":{\"like\":\"" + "a".repeat(64) + "\"}}"))
                .hasMessageContaining("at most 63");
    }

    @Test
    void likeMatchesInTimeLinearInTheValueWhateverThePattern() {
        // A backtracking matcher takes exponential or quadratic time on these; a bit-parallel one does not.
        LikePattern hostile = LikePattern.compile("%a%a%a%a%a%a%a%a%a%a%a%a%b", "body");
        String value = "a".repeat(200_000);
        // Linear is about a millisecond here; the limit means broken (a backtracking matcher never ends).
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            for (int i = 0; i < 20; i++) {
                assertThat(hostile.matches(value)).isFalse();
            }
        });
        assertThat(hostile.matches("a".repeat(12) + "b")).isTrue();
        assertThat(LikePattern.compile("é_%", "name").matches("éxyz")).isTrue();
        assertThat(LikePattern.compile("", "name").matches("")).isTrue();
        assertThat(LikePattern.compile("%", "name").matches("anything")).isTrue();
        assertThat(LikePattern.compile("a", "name").matches("ab")).isFalse();
    }
}

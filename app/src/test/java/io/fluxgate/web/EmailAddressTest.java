package io.fluxgate.web;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/** The email rule: what it accepts, what it refuses, and that no input makes it work hard. */
class EmailAddressTest {

    @ParameterizedTest
    @ValueSource(strings = {"ada@example.com", "a.b-c+tag@mail.example.co.uk", "x@y.io", "o'brien@example.ie",
            "用户@例子.广告", "first.last@sub-domain.example.org", "a_b@b-c.de"})
    void acceptsAddressesPeopleUse(String email) {
        assertThat(Constraints.isEmailAddress(email)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"not-an-email", "a@b", "@example.com", "ada@", "ada@@example.com", "a@b@example.com",
            "ada lovelace@example.com", "ada@exa mple.com", ".ada@example.com", "ada.@example.com", "a..b@example.com",
            "ada@.example.com", "ada@example..com", "ada@example.com.", "ada@-example.com", "ada@example-.com",
            "ada@exam_ple.com", "ada@[127.0.0.1]", "\"ada\"@example.com", "ada@example.com\n", "a\tb@example.com"})
    void refusesAnythingElse(String email) {
        assertThat(Constraints.isEmailAddress(email)).isFalse();
    }

    @Test
    void refusesOverlongPartsByLengthAlone() {
        assertThat(Constraints.isEmailAddress("a".repeat(64) + "@example.com")).isTrue();
        assertThat(Constraints.isEmailAddress("a".repeat(65) + "@example.com")).isFalse();
        assertThat(Constraints.isEmailAddress("a@" + "b".repeat(63) + ".com")).isTrue();
        assertThat(Constraints.isEmailAddress("a@" + "b".repeat(64) + ".com")).isFalse();
        assertThat(Constraints.isEmailAddress("a@" + "b.".repeat(125) + "io")).isTrue();
        assertThat(Constraints.isEmailAddress("a@" + "b.".repeat(126) + "io")).isFalse();
    }

    /**
     * The inputs that made the old pattern backtrack (two overlapping runs of non-@ characters), at
     * sizes a request body allows. Each is one linear pass; a thousand of them take no time at all,
     * where one used to take seconds. (Counted in steps, not timed.)
     */
    @Test
    void adversarialInputsAreRefusedWithoutBacktracking() {
        String[] attacks = {
                "a@" + "a.".repeat(100_000) + "@",
                "a".repeat(200_000) + "@",
                "a@" + "a".repeat(200_000),
                "a@" + ".".repeat(200_000) + "a",
                " ".repeat(200_000) + "@a.io"};
        for (String attack : attacks) {
            for (int i = 0; i < 1_000; i++) {
                assertThat(Constraints.isEmailAddress(attack)).isFalse();
            }
        }
    }
}

package io.fluxgate.accounts;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Amount text is judged by its shape before any arithmetic. */
class MoneyTest {

    @ParameterizedTest
    @ValueSource(strings = {"12.50", "0.01", "1", "1000000000.00", "007.5", "12.500", "-3", "-0.5"})
    void plainDecimalsHaveTheShape(String text) {
        assertThat(Money.AmountValidator.isPlainDecimal(text)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-", ".", "5.", ".5", "1e3", "1E+3", "1E-90000", "+5", "0x10", "1_000", "1,5", "NaN",
            "Infinity", "1.2.3", "١٢", " 5"})
    void anythingElseDoesNot(String text) {
        assertThat(Money.AmountValidator.isPlainDecimal(text)).isFalse();
    }

    @Test
    void aHugeExponentIsNeverParsed() {
        String bomb = "1" + "0".repeat(90_000) + "E-90000";
        // Refused by length first: neither the scan nor BigDecimal ever sees its ninety thousand digits.
        assertThat(bomb.length()).isGreaterThan(Money.MAX_TEXT);
        assertThat(Money.AmountValidator.isPlainDecimal(bomb)).isFalse();
    }
}

package io.fluxgate.changes.delivery;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.format.DateTimeParseException;

import io.fluxgate.changes.hub.Values;
import tools.jackson.databind.JsonNode;

/** An order operand, parsed once: as a number, a timestamp, or plain text. */
record Comparand(BigDecimal number, Instant instant, String text) {

    static Comparand of(JsonNode operand) {
        if (operand.isNumber()) {
            BigDecimal number = Values.decimal(operand);
            return number == null ? null : new Comparand(number, null, null);
        }
        if (!operand.isString()) {
            return null;
        }
        String text = operand.asString();
        return new Comparand(number(text), instant(text), text);
    }

    /** How {@code value} compares to this operand, or null when they cannot be compared. */
    Integer compareFrom(JsonNode value) {
        if (value == null) {
            return null;
        }
        if (value.isNumber()) {
            BigDecimal other = number == null ? null : Values.decimal(value);
            return other == null ? null : other.compareTo(number);
        }
        if (!value.isString()) {
            return null;
        }
        String other = value.asString();
        if (number != null) {
            BigDecimal parsed = number(other);
            if (parsed != null) {
                return parsed.compareTo(number);
            }
        }
        if (instant != null) {
            Instant parsed = instant(other);
            if (parsed != null) {
                return parsed.compareTo(instant);
            }
        }
        return text == null ? null : other.compareTo(text);
    }

    private static BigDecimal number(String text) {
        if (text.isEmpty() || text.length() > 40) {
            return null;
        }
        // Only what could be a plain decimal is parsed: a failed parse throws, and this runs per event.
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!((c >= '0' && c <= '9') || c == '.' || (c == '-' && i == 0))) {
                return null;
            }
        }
        try {
            return new BigDecimal(text);
        } catch (NumberFormatException notANumber) {
            return null;
        }
    }

    private static Instant instant(String text) {
        if (text.length() < 20 || text.length() > 40 || text.charAt(4) != '-' || text.charAt(10) != 'T'
                || text.charAt(text.length() - 1) != 'Z') {
            return null;
        }
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException notATimestamp) {
            return null;
        }
    }
}

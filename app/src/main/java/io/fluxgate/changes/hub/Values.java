package io.fluxgate.changes.hub;

import java.math.BigDecimal;

import tools.jackson.databind.JsonNode;

/**
 * How a field's value compares for equality, the same for the hub's route index and for row
 * filters: numbers by value whatever their scale, strings exactly, booleans.
 */
public final class Values {

    private Values() {
    }

    /** The value a field or operand is compared by for equality; null for objects and arrays. */
    public static Object key(JsonNode value) {
        if (value == null || value.isNull() || value.isMissingNode()) {
            return null;
        }
        if (value.isNumber()) {
            BigDecimal number = decimal(value);
            return number == null ? null : number.signum() == 0 ? BigDecimal.ZERO : number.stripTrailingZeros();
        }
        if (value.isString()) {
            return value.asString();
        }
        if (value.isBoolean()) {
            return value.asBoolean();
        }
        return null;
    }

    /**
     * A JSON number as a decimal; null when it has none: a float parsed past the double range
     * ({@code 1e999}) is infinite, and an exponent so large that comparing it would mean building a
     * number of millions of digits is not one a row can hold.
     */
    public static BigDecimal decimal(JsonNode number) {
        if ((number.isDouble() || number.isFloat()) && !Double.isFinite(number.doubleValue())) {
            return null;
        }
        BigDecimal value = number.decimalValue();
        return Math.abs((long) value.scale()) > MAX_SCALE ? null : value;
    }

    /** Largest exponent a number in a filter or a row may carry, either way (PostgreSQL numeric: 16383 digits). */
    public static final int MAX_SCALE = 20_000;

}

package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.fluxgate.changes.delivery.RowFilter.Invalid;
import io.fluxgate.changes.delivery.RowFilter.Test;
import io.fluxgate.changes.hub.Route;
import io.fluxgate.changes.hub.Values;
import tools.jackson.databind.JsonNode;

import static io.fluxgate.changes.delivery.RowFilter.MAX_CONDITIONS;
import static io.fluxgate.changes.delivery.RowFilter.MAX_DEPTH;
import static io.fluxgate.changes.delivery.RowFilter.MAX_IN_VALUES;
import static io.fluxgate.changes.delivery.RowFilter.MAX_LIKES;
import static io.fluxgate.changes.delivery.RowFilter.MAX_LIKE_LENGTH;
import static io.fluxgate.changes.delivery.RowFilter.MAX_STRING;

/**
 * Turns a client's filter JSON into {@link RowFilter.Test}s, counting what it costs (conditions,
 * {@code like} patterns) and refusing, with a {@link RowFilter.Invalid} a client can act on, what
 * cannot be accepted: unknown fields or operators, operands of the wrong kind, past the bounds.
 */
final class RowFilterCompiler {

    private final Set<String> fields;
    /** What the compiled filter costs per event: conditions, and {@code like} patterns among them. */
    int conditions;
    int likes;

    RowFilterCompiler(Set<String> fields) {
        this.fields = fields;
    }

    Test object(JsonNode spec, int depth) {
        if (depth > MAX_DEPTH) {
            throw new Invalid("Filters nest at most " + MAX_DEPTH + " deep");
        }
        if (!spec.isObject() || spec.isEmpty()) {
            throw new Invalid("Every filter object needs at least one condition");
        }
        List<Test> all = new ArrayList<>();
        for (Map.Entry<String, JsonNode> entry : spec.properties()) {
            String name = entry.getKey();
            JsonNode value = entry.getValue();
            switch (name) {
                case "and", "or" -> {
                    if (!value.isArray() || value.isEmpty()) {
                        throw new Invalid("'" + name + "' takes a non-empty array of filters");
                    }
                    List<Test> parts = new ArrayList<>();
                    for (JsonNode part : value) {
                        parts.add(object(part, depth + 1));
                    }
                    all.add(name.equals("and") ? allOf(parts) : anyOf(parts));
                }
                case "not" -> {
                    Test inner = object(value, depth + 1);
                    all.add(row -> !inner.test(row));
                }
                default -> all.add(field(name, value));
            }
        }
        return allOf(all);
    }

    private Test field(String field, JsonNode operators) {
        if (!fields.contains(field)) {
            throw new Invalid("Unknown field '" + field + "'");
        }
        if (!operators.isObject() || operators.isEmpty()) {
            throw new Invalid("Field '" + field + "' takes an object of operators, such as {\"eq\": 1}");
        }
        List<Test> all = new ArrayList<>();
        for (Map.Entry<String, JsonNode> operator : operators.properties()) {
            if (++conditions > MAX_CONDITIONS) {
                throw new Invalid("A filter holds at most " + MAX_CONDITIONS + " conditions");
            }
            all.add(condition(field, operator.getKey(), operator.getValue()));
        }
        return allOf(all);
    }

    private Test condition(String field, String operator, JsonNode operand) {
        return switch (operator) {
            case "eq" -> {
                Object key = scalar(field, operator, operand);
                yield row -> key.equals(Values.key(row.get(field)));
            }
            case "neq" -> {
                Object key = scalar(field, operator, operand);
                yield row -> !key.equals(Values.key(row.get(field)));
            }
            case "in" -> {
                Set<Object> keys = inKeys(field, operand);
                yield row -> keys.contains(Values.key(row.get(field)));
            }
            case "lt" -> order(field, operator, operand, c -> c < 0);
            case "lte" -> order(field, operator, operand, c -> c <= 0);
            case "gt" -> order(field, operator, operand, c -> c > 0);
            case "gte" -> order(field, operator, operand, c -> c >= 0);
            case "like" -> {
                if (!operand.isString()) {
                    throw new Invalid("'like' on '" + field + "' takes a string");
                }
                if (++likes > MAX_LIKES) {
                    throw new Invalid("A filter holds at most " + MAX_LIKES + " 'like' conditions");
                }
                LikePattern like = LikePattern.compile(operand.asString(), field);
                yield row -> {
                    JsonNode value = row.get(field);
                    return value != null && value.isString() && like.matches(value.asString());
                };
            }
            case "isNull" -> {
                if (!operand.isBoolean()) {
                    throw new Invalid("'isNull' on '" + field + "' takes true or false");
                }
                boolean wanted = operand.asBoolean();
                yield row -> {
                    JsonNode value = row.get(field);
                    return (value == null || value.isNull()) == wanted;
                };
            }
            default -> throw new Invalid("Unknown operator '" + operator + "' on '" + field + "'");
        };
    }

    private static Object scalar(String field, String operator, JsonNode operand) {
        if (operand.isNumber() && Values.decimal(operand) == null) {
            throw new Invalid("'" + operator + "' on '" + field + "' takes a finite number of ordinary size");
        }
        Object key = Values.key(operand);
        if (key == null) {
            throw new Invalid("'" + operator + "' on '" + field
                    + "' takes a string, number or boolean (use isNull for null)");
        }
        if (key instanceof String text && text.length() > MAX_STRING) {
            throw new Invalid("Filter values are at most " + MAX_STRING + " characters");
        }
        return key;
    }

    private static Set<Object> inKeys(String field, JsonNode operand) {
        if (!operand.isArray() || operand.isEmpty() || operand.size() > MAX_IN_VALUES) {
            throw new Invalid("'in' on '" + field + "' takes an array of 1 to " + MAX_IN_VALUES + " values");
        }
        Set<Object> keys = new HashSet<>();
        for (JsonNode value : operand) {
            keys.add(scalar(field, "in", value));
        }
        return Set.copyOf(keys);
    }

    private interface Outcome {
        boolean of(int comparison);
    }

    private static Test order(String field, String operator, JsonNode operand, Outcome outcome) {
        Comparand bound = Comparand.of(operand);
        if (bound == null) {
            throw new Invalid("'" + operator + "' on '" + field + "' takes a string or a finite number");
        }
        if (operand.isString() && operand.asString().length() > MAX_STRING) {
            throw new Invalid("Filter values are at most " + MAX_STRING + " characters");
        }
        return row -> {
            Integer comparison = bound.compareFrom(row.get(field));
            return comparison != null && outcome.of(comparison);
        };
    }

    /** The first {@code eq} or {@code in} among the top-level fields: every accepted row meets it. */
    Route.Equality topEquality(JsonNode spec) {
        for (Map.Entry<String, JsonNode> entry : spec.properties()) {
            String field = entry.getKey();
            if (!fields.contains(field)) {
                continue;
            }
            JsonNode eq = entry.getValue().get("eq");
            if (eq != null) {
                return new Route.Equality(field, Set.of(Values.key(eq)));
            }
            JsonNode in = entry.getValue().get("in");
            if (in != null) {
                return new Route.Equality(field, inKeys(field, in));
            }
        }
        return null;
    }

    private static Test allOf(List<Test> tests) {
        if (tests.size() == 1) {
            return tests.get(0);
        }
        Test[] all = tests.toArray(Test[]::new);
        return row -> {
            for (Test test : all) {
                if (!test.test(row)) {
                    return false;
                }
            }
            return true;
        };
    }

    private static Test anyOf(List<Test> tests) {
        Test[] any = tests.toArray(Test[]::new);
        return row -> {
            for (Test test : any) {
                if (test.test(row)) {
                    return true;
                }
            }
            return false;
        };
    }
}

package io.fluxgate.changes.delivery;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.fluxgate.changes.hub.Route;
import io.fluxgate.changes.hub.Values;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * A subscription's row filter, compiled once from the client's JSON and then tested against each
 * event's data without a database read. Fields in one object, and operators on one field, are AND;
 * {@code and}, {@code or} and {@code not} nest.
 *
 * <p>Route.Equality ({@code eq}, {@code neq}, {@code in}) compares JSON values: numbers by value, strings
 * exactly (money is a string on the wire, so {@code "12.50"}). Order ({@code lt}, {@code lte},
 * {@code gt}, {@code gte}) compares numbers, numeric strings and ISO timestamps by value, other
 * strings by character. {@code like} takes {@code %} and {@code _} and runs in time linear in the
 * value, whatever the pattern.
 */
public final class RowFilter {

    public static final int MAX_CONDITIONS = 50;
    public static final int MAX_IN_VALUES = 100;
    public static final int MAX_DEPTH = 8;
    public static final int MAX_STRING = 1000;
    /** Characters of a like pattern other than {@code %}: one bit each in the matcher's state. */
    public static final int MAX_LIKE_LENGTH = 63;
    public static final int MAX_LIKES = 5;

    /** The client's filter could not be accepted; the detail says why, in words a client can act on. */
    public static final class Invalid extends RuntimeException {
        Invalid(String detail) {
            super(detail, null, false, false);
        }
    }

    private interface Test {
        boolean test(ObjectNode row);
    }

    private final Test root;
    private final Route.Equality equality;
    /** The client's JSON, as compiled: shown to admins and taken apart to explain a miss. */
    private final JsonNode spec;
    private final Set<String> fields;
    private final int conditions;
    private final int likes;

    private RowFilter(Test root, Route.Equality equality, JsonNode spec, Set<String> fields, int conditions, int likes) {
        this.root = root;
        this.equality = equality;
        this.spec = spec;
        this.fields = fields;
        this.conditions = conditions;
        this.likes = likes;
    }

    /** Conditions it tests per event, at most: what a session's budget counts. */
    public int conditions() {
        return conditions;
    }

    public int likes() {
        return likes;
    }

    public boolean test(ObjectNode row) {
        return root.test(row);
    }

    /** An equality every accepted row meets, or null when the filter has none at its top level. */
    public Route.Equality equality() {
        return equality;
    }

    public JsonNode spec() {
        return spec;
    }

    /**
     * The first of its conditions that {@code row} fails, as a filter of its own such as
     * {@code {"authorId":{"eq":5}}}: one operator on one field, or a whole {@code and}, {@code or} or
     * {@code not} clause; null when the row passes. For the delivery inspector, not the hot path: it
     * compiles each part again.
     */
    public String firstFailing(ObjectNode row) {
        if (test(row)) {
            return null;
        }
        for (Map.Entry<String, JsonNode> entry : spec.properties()) {
            String name = entry.getKey();
            boolean clause = name.equals("and") || name.equals("or") || name.equals("not");
            if (clause) {
                ObjectNode part = JsonNodeFactory.instance.objectNode().set(name, entry.getValue());
                if (!compile(part, fields).test(row)) {
                    return part.toString();
                }
                continue;
            }
            for (Map.Entry<String, JsonNode> operator : entry.getValue().properties()) {
                ObjectNode part = JsonNodeFactory.instance.objectNode();
                part.putObject(name).set(operator.getKey(), operator.getValue());
                if (!compile(part, fields).test(row)) {
                    return part.toString();
                }
            }
        }
        return spec.toString();
    }

    @Override
    public String toString() {
        return spec.toString();
    }

    /** Compiles {@code spec} for rows with {@code fields}; throws {@link Invalid} when it cannot be accepted. */
    public static RowFilter compile(JsonNode spec, Set<String> fields) {
        if (spec == null || !spec.isObject()) {
            throw new Invalid("A filter is a JSON object");
        }
        Compiler compiler = new Compiler(fields);
        Test root = compiler.object(spec, 1);
        return new RowFilter(root, compiler.topEquality(spec), spec, fields, compiler.conditions, compiler.likes);
    }

    private static final class Compiler {

        private final Set<String> fields;
        private int conditions;
        private int likes;

        Compiler(Set<String> fields) {
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
}
